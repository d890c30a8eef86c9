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
	switch {
	case errors.Is(err, consent.ErrBadToken), errors.Is(err, consent.ErrUnknownMagnet):
		render(w, r, http.StatusBadRequest, "bad_link", nil)
	case err != nil:
		s.logFailure(r, "unsubscribe page failed", err)
		render(w, r, http.StatusInternalServerError, "failure", nil)
	default:
		render(w, r, http.StatusOK, "unsubscribe", unsubscribeData{Magnet: t.Magnet, MaskedEmail: t.MaskedEmail, Action: s.link(r, "/unsubscribe?t="+url.QueryEscape(tok))})
	}
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
// answers 200 with a page, never a redirect.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err := parseForm(r, mediaType); err != nil {
		render(w, r, errorStatus(err), "bad_link", nil)
		return
	}
	var method string
	switch {
	case r.PostForm.Get("List-Unsubscribe") == "One-Click":
		method = consent.MethodOneClick
	case r.PostForm.Get("confirm") == "yes":
		method = consent.MethodUnsubscribePage
	default:
		render(w, r, http.StatusBadRequest, "bad_link", nil)
		return
	}
	t, err := s.Service.Withdraw(r.Context(), r.URL.Query().Get("t"), method, evidence(r))
	switch {
	case errors.Is(err, consent.ErrBadToken), errors.Is(err, consent.ErrUnknownMagnet):
		render(w, r, http.StatusBadRequest, "bad_link", nil)
	case err != nil:
		s.logFailure(r, "unsubscribe failed", err)
		render(w, r, http.StatusInternalServerError, "failure", nil)
	default:
		render(w, r, http.StatusOK, "unsubscribed", unsubscribeData{Magnet: t.Magnet})
	}
}
