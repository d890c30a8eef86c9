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
	Magnet magnet.Magnet
	// Controller names who the purpose belongs to: unsubscribing stops all
	// marketing email from them, not only this magnet's.
	Controller string
	// Narrow is set when the magnet asked for a narrower purpose
	// (PurposeName): the page then offers "stop all marketing from
	// Controller" first and "stop only PurposeName" second.
	Narrow      bool
	PurposeName string
	// All: what was withdrawn was everything from Controller.
	All bool
	// Direct: the link came with a message the business sent on a
	// may-email answer, not with one of a magnet's emails.
	Direct      bool
	MaskedEmail string
	Action      string
	// AlreadyUnsubscribed: the link has nothing left to stop for its
	// purpose; OtherMarketing: other marketing from Controller still
	// stands (see consent.UnsubscribeTarget).
	AlreadyUnsubscribed, OtherMarketing bool
	// WithdrawURL is the self-service unsubscribe page, for emails from
	// another list or address.
	WithdrawURL string
}

// purposeName says a narrower purpose without its controller ("weekly SEO
// tips"); "" for the controller-wide one.
func purposeName(m magnet.Magnet) string {
	if m.Purpose == nil {
		return ""
	}
	return m.Purpose.Name
}

// controllerOf names the controller whose marketing an unsubscribe stops
// (a magnet no longer configured has only the sender name it was given).
func controllerOf(m magnet.Magnet) string {
	if name := magnet.ControllerName(m.Controller); name != "" {
		return name
	}
	return m.SenderName
}

// unsubscribePage answers GET and HEAD on an unsubscribe link with a page and
// a button — or, for a link whose purpose is already withdrawn, a page
// saying so, with a button only if other marketing from the controller
// still stands. It never writes: mail scanners open every link.
func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("t")
	t, err := s.Service.DescribeUnsubscribe(r.Context(), tok)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "unsubscribe", unsubscribeData{Magnet: t.Magnet, Controller: controllerOf(t.Magnet), Narrow: t.Magnet.Purpose != nil, PurposeName: purposeName(t.Magnet), MaskedEmail: t.MaskedEmail, Direct: t.Direct, Action: s.link(r, "/unsubscribe?t="+url.QueryEscape(tok)),
		AlreadyUnsubscribed: t.AlreadyUnsubscribed, OtherMarketing: t.OtherMarketing, WithdrawURL: s.withdrawURL(r)})
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
// (400). A one-click post from a mail provider's server (no Origin, no
// Sec-Fetch-Site) is taken from anywhere; every other post only from this
// service's own pages (403 otherwise).
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	if err := readLinkForm(r, "List-Unsubscribe", "confirm", "scope"); err != nil {
		s.fail(w, r, err)
		return
	}
	tok := r.URL.Query().Get("t")
	oneClick := r.PostForm.Get("List-Unsubscribe") == "One-Click"
	fromMailProvider := oneClick && r.Header.Get("Origin") == "" && r.Header.Get("Sec-Fetch-Site") == ""
	if !fromMailProvider {
		if err := s.ownSource(r, s.link(r, "/unsubscribe?t="+url.QueryEscape(tok)), "Open the unsubscribe page"); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	var method string
	switch {
	case oneClick:
		method = consent.MethodOneClick
	case r.PostForm.Get("confirm") == "yes":
		method = consent.MethodUnsubscribePage
	default:
		s.fail(w, r, errBadLink)
		return
	}
	// One-click withdraws the purpose the email was sent under; the page's
	// first button ("stop all marketing", the default) everything from the
	// controller, its second (scope=purpose) only the narrower purpose.
	withdraw, all := s.Service.WithdrawController, true
	if oneClick || r.PostForm.Get("scope") == "purpose" {
		withdraw, all = s.Service.Withdraw, false
	}
	t, err := withdraw(r.Context(), tok, method, evidence(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "unsubscribed", unsubscribeData{Magnet: t.Magnet, Controller: controllerOf(t.Magnet), Narrow: t.Magnet.Purpose != nil, All: all, PurposeName: purposeName(t.Magnet), Direct: t.Direct, WithdrawURL: s.withdrawURL(r)})
}

// readLinkForm reads the form posted to an emailed link into r.PostForm and
// checks that each named field was sent at most once and not in the URL (a
// *consent.ValidationError naming it otherwise). A form that cannot be read
// is errBadLink; a body over the limit stays a *http.MaxBytesError (413).
func readLinkForm(r *http.Request, names ...string) error {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	err := parseForm(r, mediaType)
	var verr *consent.ValidationError
	if errors.As(err, &verr) {
		return errBadLink
	}
	if err != nil {
		return err
	}
	return singleValues(r, names...)
}
