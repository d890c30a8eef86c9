package web

import (
	"errors"
	"mime"
	"net/http"

	"github.com/unbundled/unbundled/shared/consent"
)

type withdrawData struct {
	Action string
	Errors map[string]string
	Email  string // the address sent, shown again with Errors
}

// withdrawPage is the self-service page for people who lost our emails:
// enter an address, get unsubscribe links by email.
func (s *Server) withdrawPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "withdraw", withdrawData{Action: s.link(r, "/withdraw")})
}

// withdrawRequest answers every valid address with the same page, whether or
// not it is known, subscribed or rate-limited, so it cannot be used to find
// out who is on a list. An invalid address, or email sent twice or in the
// URL, shows the form again with the message (400). A post from a page other
// than ours is refused (403); a source over its request limit gets 429,
// which says nothing about the address.
func (s *Server) withdrawRequest(w http.ResponseWriter, r *http.Request) {
	if err := s.ownSource(r, s.link(r, "/withdraw"), "Open the form to stop marketing emails"); err != nil {
		s.fail(w, r, err)
		return
	}
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	err := parseForm(r, mediaType)
	if err == nil {
		err = singleValues(r, "email")
	}
	if err == nil {
		err = s.Service.RequestWithdrawalLinks(r.Context(), r.PostForm.Get("email"), evidence(r))
	}
	var verr *consent.ValidationError
	switch {
	case errors.As(err, &verr):
		s.render(w, r, http.StatusBadRequest, "withdraw", withdrawData{Action: s.link(r, "/withdraw"), Errors: verr.Fields, Email: r.PostForm.Get("email")})
	case err != nil:
		s.fail(w, r, err)
	default:
		s.render(w, r, http.StatusOK, "withdraw_sent", nil)
	}
}
