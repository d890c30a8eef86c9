package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages holds one template per file of templates/ other than layout.html,
// named after the file without ".html": the layout plus that file's "title"
// and "content" blocks. A template that does not parse panics at init, so
// every test of this package fails.
var pages = parsePages(templateFS)

func parsePages(fsys fs.FS) map[string]*template.Template {
	layout := template.Must(template.New("layout.html").Funcs(pageFuncs).ParseFS(fsys, "templates/layout.html"))
	files, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		panic(err)
	}
	m := make(map[string]*template.Template, len(files))
	for _, file := range files {
		name := strings.TrimSuffix(path.Base(file), ".html")
		if name == "layout" {
			continue
		}
		m[name] = template.Must(template.Must(layout.Clone()).ParseFS(fsys, file))
	}
	return m
}

// pageFuncs are the functions every page may call.
var pageFuncs = template.FuncMap{"readableTimes": readableTimes, "mentionsUnsubscribe": mentionsUnsubscribe}

// mentionsUnsubscribe reports whether a consent wording already tells the
// person they can unsubscribe, so the form does not say it twice.
func mentionsUnsubscribe(wording string) bool {
	return strings.Contains(strings.ToLower(wording), "unsubscribe")
}

// isoTime matches the RFC 3339 UTC times our own texts carry
// ("2026-11-28T10:00:00Z"), such as a consent decision's reason.
var isoTime = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z\b`)

// readableTimes rewrites every RFC 3339 UTC time in text the way people
// read dates (consent.ReadableTime: "28 November 2026, 10:00 UTC"), for
// pages showing a text made for tools, such as a decision's reason.
func readableTimes(text string) string {
	return isoTime.ReplaceAllStringFunc(text, func(s string) string {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return s
		}
		return consent.ReadableTime(t)
	})
}

// render writes a full HTML page (headers only for HEAD). If the page cannot
// be rendered the request fails with a 500.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	if err := writePage(w, r, status, page, data); err != nil {
		s.fail(w, r, err)
	}
}

// writePage renders page into a buffer first, so on error nothing has been
// written and the caller can still answer cleanly.
func writePage(w http.ResponseWriter, r *http.Request, status int, page string, data any) error {
	t, ok := pages[page]
	if !ok {
		return fmt.Errorf("render page %s: no such page", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("render page %s: %w", page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
	return nil
}
