package web

import (
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/unbundled/unbundled/shared/consent"
)

type confirmData struct {
	consent.ConfirmTarget
	Action string
}

// confirmPage answers GET and HEAD on a confirm link with the wording the
// person agreed to and a button. It never writes: scanners open every link.
func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("t")
	t, err := s.Service.DescribeConfirmation(r.Context(), tok)
	s.renderConfirm(w, r, tok, t, err, "confirm")
}

// confirm handles the page's button: it records the confirmation once;
// repeats show the same success page and write nothing.
func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err := parseForm(r, mediaType); err != nil || r.PostForm.Get("confirm") != "yes" {
		render(w, r, http.StatusBadRequest, "bad_link", nil)
		return
	}
	tok := r.URL.Query().Get("t")
	t, err := s.Service.Confirm(r.Context(), tok, evidence(r))
	s.renderConfirm(w, r, tok, t, err, "confirmed")
}

func (s *Server) renderConfirm(w http.ResponseWriter, r *http.Request, tok string, t consent.ConfirmTarget, err error, okPage string) {
	data := confirmData{ConfirmTarget: t, Action: s.link(r, "/confirm?t="+url.QueryEscape(tok))}
	switch {
	case errors.Is(err, consent.ErrLinkExpired):
		data.Action = s.link(r, "/confirm/resend?t="+url.QueryEscape(tok))
		render(w, r, http.StatusOK, "confirm_expired", data)
	case errors.Is(err, consent.ErrBadToken), errors.Is(err, consent.ErrUnknownMagnet):
		render(w, r, http.StatusBadRequest, "bad_link", nil)
	case err != nil:
		s.logFailure(r, "confirm failed", err)
		render(w, r, http.StatusInternalServerError, "failure", nil)
	case t.Status.State == consent.StateActive && okPage == "confirm":
		render(w, r, http.StatusOK, "confirmed", data)
	case t.Status.State == consent.StateNone || t.Status.State == consent.StateWithdrawn:
		render(w, r, http.StatusOK, "nothing_to_confirm", data)
	default:
		render(w, r, http.StatusOK, okPage, data)
	}
}

// confirmResend sends a new confirm link for an expired one. The answer is
// the same whether or not anything was sent.
func (s *Server) confirmResend(w http.ResponseWriter, r *http.Request) {
	err := s.Service.ResendConfirmation(r.Context(), r.URL.Query().Get("t"))
	switch {
	case errors.Is(err, consent.ErrBadToken), errors.Is(err, consent.ErrUnknownMagnet):
		render(w, r, http.StatusBadRequest, "bad_link", nil)
	case err != nil:
		s.logFailure(r, "confirm resend failed", err)
		render(w, r, http.StatusInternalServerError, "failure", nil)
	default:
		render(w, r, http.StatusOK, "confirm_resent", nil)
	}
}
