package web

import (
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

type unsubscribeData struct {
	Magnet      magnet.Magnet
	MaskedEmail string
	Action      string
}

// unsubscribePage answers GET and HEAD on an unsubscribe link with a page and
// a button. It never writes: mail scanners open every link.
func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("t")
	t, err := s.Service.DescribeUnsubscribe(r.Context(), tok)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "unsubscribe", unsubscribeData{Magnet: t.Magnet, MaskedEmail: t.MaskedEmail, Action: s.link(r, "/unsubscribe?t="+url.QueryEscape(tok))})
}

// linkOptions answers OPTIONS on emailed links (sent by some scanners and
// clients) without touching anything.
func (s *Server) linkOptions(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, HEAD, POST, OPTIONS")
	w.WriteHeader(http.StatusNoContent)
}

// unsubscribe handles POST: the RFC 8058 one-click body
// "List-Unsubscribe=One-Click" (sent by mail providers without cookies or
// auth) or our page's button. It withdraws before answering and always
// answers 200 with a page, never a redirect. Any other body is a bad link
// (400).
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if err := readLinkForm(r); err != nil {
		s.fail(w, r, err)
		return
	}
	var method string
	switch {
	case r.PostForm.Get("List-Unsubscribe") == "One-Click":
		method = consent.MethodOneClick
	case r.PostForm.Get("confirm") == "yes":
		method = consent.MethodUnsubscribePage
	default:
		s.fail(w, r, errBadLink)
		return
	}
	t, err := s.Service.Withdraw(r.Context(), r.URL.Query().Get("t"), method, evidence(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "unsubscribed", unsubscribeData{Magnet: t.Magnet})
}

// readLinkForm reads the form posted to an emailed link into r.PostForm. A
// form that cannot be read is errBadLink; a body over the limit stays a
// *http.MaxBytesError (413).
func readLinkForm(r *http.Request) error {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	err := parseForm(r, mediaType)
	var verr *consent.ValidationError
	if errors.As(err, &verr) {
		return errBadLink
	}
	return err
}
