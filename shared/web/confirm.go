package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/unbundled/unbundled/shared/consent"
)

type confirmData struct {
	consent.ConfirmTarget
	Action string
	// WithdrawURL is the self-service unsubscribe page, for links that
	// have expired or have nothing left to confirm.
	WithdrawURL string
}

// confirmPage answers GET and HEAD on a confirm link with the wording the
// person agreed to and a button. It never writes: scanners open every link.
func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("t")
	t, err := s.Service.DescribeConfirmation(r.Context(), tok)
	s.renderConfirm(w, r, tok, t, err, "confirm")
}

// confirm handles the page's button: it records the confirmation once;
// repeats show the same success page and write nothing. A body without the
// button's field is a bad link (400); a post from a page other than ours is
// refused (403).
func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("t")
	if err := s.ownSource(r, s.confirmLink(r, tok), "Open the confirm page"); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := readLinkForm(r, "confirm"); err != nil {
		s.fail(w, r, err)
		return
	}
	if r.PostForm.Get("confirm") != "yes" {
		s.fail(w, r, errBadLink)
		return
	}
	t, err := s.Service.Confirm(r.Context(), tok, evidence(r))
	s.renderConfirm(w, r, tok, t, err, "confirmed")
}

// renderConfirm shows okPage for a confirmation waiting for (or, on the
// confirm page, past) the button, the resend offer for an expired link, and
// hands every other error to fail.
func (s *Server) renderConfirm(w http.ResponseWriter, r *http.Request, tok string, t consent.ConfirmTarget, err error, okPage string) {
	data := confirmData{ConfirmTarget: t, Action: s.confirmLink(r, tok), WithdrawURL: s.withdrawURL(r)}
	switch {
	case errors.Is(err, consent.ErrLinkExpired):
		data.Action = s.link(r, "/confirm/resend?t="+url.QueryEscape(tok))
		s.render(w, r, http.StatusOK, "confirm_expired", data)
	case err != nil:
		s.fail(w, r, err)
	case t.Status.State == consent.StateActive && okPage == "confirm":
		s.render(w, r, http.StatusOK, "confirmed", data)
	case t.Status.State != consent.StatePending && t.Status.State != consent.StateActive:
		// Never given, withdrawn, objected or suppressed: nothing a click
		// here can change.
		s.render(w, r, http.StatusOK, "nothing_to_confirm", data)
	default:
		s.render(w, r, http.StatusOK, okPage, data)
	}
}

// confirmLink is the confirm page for token tok.
func (s *Server) confirmLink(r *http.Request, tok string) string {
	return s.link(r, "/confirm?t="+url.QueryEscape(tok))
}

// confirmResend sends a new confirm link for an expired one. The answer is
// the same whether or not anything was sent. A post from a page other than
// ours is refused (403).
func (s *Server) confirmResend(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("t")
	if err := s.ownSource(r, s.confirmLink(r, tok), "Open the confirm page"); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.Service.ResendConfirmation(r.Context(), tok); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "confirm_resent", nil)
}
