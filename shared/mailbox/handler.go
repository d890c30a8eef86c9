package mailbox

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// BasePath is where Handler serves the mailbox. Mount the handler on a mux
// at "/_local/" (or at BasePath and below); its routes carry the full path.
const BasePath = "/_local/mailbox"

// Content-Security-Policy values. The raw HTML part is an untrusted
// document: it runs in a sandbox (unique origin, no scripts, forms or
// popups) and may load nothing but inline styles and data: images. The
// mailbox pages themselves need no script either; a srcdoc iframe inherits
// the page's policy, so the same image and style limits apply to the
// preview.
const (
	rawHTMLPolicy = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
	pagePolicy    = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)

//go:embed templates/*.html
var templateFS embed.FS

var (
	listPage    = template.Must(template.ParseFS(templateFS, "templates/layout.html", "templates/list.html"))
	messagePage = template.Must(template.ParseFS(templateFS, "templates/layout.html", "templates/message.html"))
)

// Handler serves the mailbox to people and tests:
//
//	GET /_local/mailbox            HTML list, newest first
//	GET /_local/mailbox.json       JSON array of Stored, newest last
//	GET /_local/mailbox/{id}       one message: headers, text part, sandboxed HTML preview
//	GET /_local/mailbox/{id}/html  the raw HTML part under a sandboxing CSP
//
// HEAD is answered too. Unknown ids get 404; storage errors get a generic
// 500 and are logged with slog (never with message content or addresses).
func (m *Mailbox) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+BasePath, m.serveList)
	mux.HandleFunc("GET "+BasePath+".json", m.serveJSON)
	mux.HandleFunc("GET "+BasePath+"/{id}", m.serveMessage)
	mux.HandleFunc("GET "+BasePath+"/{id}/html", m.serveRawHTML)
	return mux
}

func (m *Mailbox) serveList(w http.ResponseWriter, r *http.Request) {
	list, err := m.List(r.Context())
	if err != nil {
		serverError(w, r, err)
		return
	}
	slices.Reverse(list) // newest first for people
	render(w, r, listPage, list)
}

func (m *Mailbox) serveJSON(w http.ResponseWriter, r *http.Request) {
	list, err := m.List(r.Context())
	if err != nil {
		serverError(w, r, err)
		return
	}
	body, err := json.Marshal(list)
	if err != nil {
		serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(body)
}

// messageView is what message.html renders.
type messageView struct {
	Stored
	Headers []headerRow
	Links   []string
}

type headerRow struct{ Name, Value string }

func (m *Mailbox) serveMessage(w http.ResponseWriter, r *http.Request) {
	s, ok := m.lookup(w, r)
	if !ok {
		return
	}
	render(w, r, messagePage, messageView{Stored: s, Headers: orderedHeaders(s.Headers), Links: textLinks(s.Text)})
}

func (m *Mailbox) serveRawHTML(w http.ResponseWriter, r *http.Request) {
	s, ok := m.lookup(w, r)
	if !ok {
		return
	}
	if s.HTML == "" {
		http.Error(w, "This message has no HTML part.", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", rawHTMLPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.Write([]byte(s.HTML))
}

// lookup loads the message named in the path, answering 404 or 500 itself
// when it cannot.
func (m *Mailbox) lookup(w http.ResponseWriter, r *http.Request) (Stored, bool) {
	s, err := m.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, ErrNotFound) {
		http.Error(w, "No such message.", http.StatusNotFound)
		return Stored{}, false
	}
	if err != nil {
		serverError(w, r, err)
		return Stored{}, false
	}
	return s, true
}

// render executes a page into a buffer first, so a template error becomes a
// clean 500 instead of half a page.
func render(w http.ResponseWriter, r *http.Request, page *template.Template, data any) {
	var buf bytes.Buffer
	if err := page.ExecuteTemplate(&buf, "layout", data); err != nil {
		serverError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pagePolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

func serverError(w http.ResponseWriter, r *http.Request, err error) {
	slog.ErrorContext(r.Context(), "mailbox request failed", "method", r.Method, "pattern", r.Pattern, "err", err)
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}

// headerOrder is how the standard fields are listed; any other header
// follows in name order.
var headerOrder = []string{"From", "To", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version"}

func orderedHeaders(headers map[string]string) []headerRow {
	rows := make([]headerRow, 0, len(headers))
	for _, name := range headerOrder {
		if v, ok := headers[name]; ok {
			rows = append(rows, headerRow{name, v})
		}
	}
	var rest []headerRow
	for name, v := range headers {
		if !slices.Contains(headerOrder, name) {
			rest = append(rest, headerRow{name, v})
		}
	}
	slices.SortFunc(rest, func(a, b headerRow) int { return strings.Compare(a.Name, b.Name) })
	return append(rows, rest...)
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// textLinks lists the distinct http(s) links in a text part, so the
// developer can follow a confirm or unsubscribe link from the mailbox.
// html/template still vets each one when it becomes an href.
func textLinks(text string) []string {
	var links []string
	for _, l := range linkPattern.FindAllString(text, -1) {
		l = strings.TrimRight(l, ".,;:!?)]}'")
		if !slices.Contains(links, l) {
			links = append(links, l)
		}
	}
	return links
}
