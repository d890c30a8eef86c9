package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// noticeLink is what a page shows next to a form, or after it: the short
// privacy notice and a link to the full one.
type noticeLink struct {
	Short string
	URL   string
}

// noticeLinkFor returns m's short notice and the link to its full notice.
func (s *Server) noticeLinkFor(r *http.Request, m magnet.Magnet) noticeLink {
	return noticeLink{
		Short: s.Service.CurrentNotice(r.Context(), m).Short,
		URL:   s.link(r, "/notice?magnet="+url.QueryEscape(m.ID)),
	}
}

// noticePage is what templates/notice.html shows.
type noticePage struct {
	Missing bool // no such magnet, or no such notice version for it
	Title   string
	ID      string
	Blocks  []noticeBlock
	// Current is whether this is the notice in force now; for an earlier
	// version, Since is when it was first archived and CurrentURL links
	// to the notice in force.
	Current    bool
	Since      string
	CurrentURL string
}

// notice serves GET /notice?magnet=<id>: the magnet's full privacy notice
// as it is now. With &version=<notice id> it shows that archived version of
// the magnet's notice instead. An unknown magnet, or a version not archived
// for it, gets a 404 page, a request naming no magnet the same page as a
// 400; nothing is written either way.
func (s *Server) notice(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("magnet") == "" {
		s.render(w, r, http.StatusBadRequest, "notice", noticePage{Missing: true})
		return
	}
	m, ok := s.Catalog.Get(q.Get("magnet"))
	if !ok {
		s.render(w, r, http.StatusNotFound, "notice", noticePage{Missing: true})
		return
	}
	current := s.Service.CurrentNotice(r.Context(), m)
	page := noticePage{Title: m.Title, ID: current.ID, Current: true}
	text := current.Text
	if v := q.Get("version"); v != "" && v != current.ID {
		archived, err := s.Service.ArchivedNotice(r.Context(), m.ID, v)
		if errors.Is(err, consent.ErrNotFound) {
			s.render(w, r, http.StatusNotFound, "notice", noticePage{Missing: true})
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		page.ID, page.Current, text = archived.ID, false, archived.Wording
		page.Since = archived.ArchivedAt.UTC().Format("2 January 2006")
		page.CurrentURL = s.link(r, "/notice?magnet="+url.QueryEscape(m.ID))
	}
	page.Blocks = noticeBlocks(text)
	s.render(w, r, http.StatusOK, "notice", page)
}

// noticeBlock is one block of a notice's text, for the page: a title, a
// heading, a list or a paragraph.
type noticeBlock struct {
	Kind  string // "title", "heading", "list" or "paragraph"
	Text  string
	Items []string
}

// noticeBlocks reads the plain text of a notice (consent.NoticeFor's
// format) as blocks: a line underlined with "=" is the title, one underlined
// with "-" a heading, consecutive lines starting "- " a list, and other
// lines up to a blank line a paragraph. Any text reads as something: what
// is not recognised is a paragraph. If there is no title, one is added.
func noticeBlocks(text string) []noticeBlock {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var (
		blocks []noticeBlock
		para   []string
		inList bool
	)
	flush := func() {
		if len(para) > 0 {
			blocks = append(blocks, noticeBlock{Kind: "paragraph", Text: strings.Join(para, "\n")})
			para = nil
		}
	}
	underlined := func(i int, c string) bool {
		if i+1 >= len(lines) {
			return false
		}
		next := strings.TrimSpace(lines[i+1])
		return len(next) >= 3 && strings.Trim(next, c) == ""
	}
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " \t")
		switch {
		case line == "":
			flush()
			inList = false
		case underlined(i, "="), underlined(i, "-"):
			flush()
			kind := "heading"
			if underlined(i, "=") {
				kind = "title"
			}
			blocks = append(blocks, noticeBlock{Kind: kind, Text: line})
			inList = false
			i++
		case strings.HasPrefix(line, "- "):
			flush()
			if !inList {
				blocks = append(blocks, noticeBlock{Kind: "list"})
				inList = true
			}
			last := &blocks[len(blocks)-1]
			last.Items = append(last.Items, strings.TrimPrefix(line, "- "))
		default:
			inList = false
			para = append(para, line)
		}
	}
	flush()
	if len(blocks) == 0 || blocks[0].Kind != "title" {
		blocks = append([]noticeBlock{{Kind: "title", Text: "Privacy notice"}}, blocks...)
	}
	return blocks
}

// maxPageURL caps the page URL kept as evidence.
const maxPageURL = 500

// pageURL is the page a form was posted from, kept with the sign-up's
// evidence: the Referer header if it is an absolute http(s) URL, else the
// Origin header. Only scheme, host and path are kept: a query or fragment
// may carry tokens or personal data (and so may user info). A value with
// control characters, or longer than maxPageURL once cleaned, is dropped —
// never a reason to refuse the sign-up. It is "" when neither header gives
// a usable value.
func pageURL(r *http.Request) string {
	for _, name := range []string{"Referer", "Origin"} {
		if u, ok := cleanPageURL(r.Header.Get(name)); ok {
			return u
		}
	}
	return ""
}

func cleanPageURL(raw string) (string, bool) {
	if raw == "" || strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", false
	}
	clean := u.Scheme + "://" + u.Host + u.EscapedPath()
	if len(clean) > maxPageURL {
		return "", false
	}
	return clean, true
}
