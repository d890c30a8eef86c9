package web

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// signup handles POST /signup from an HTML form (303 to the thank-you page)
// or JSON (202 {"status":"accepted"}). Bad or ambiguous input: 400 with a
// message per field (see decodeSignup) — for a form, the form again with
// what was sent (see signupFailed). A form naming a download that does not
// exist: a 404 page. A browser page the magnet does not allow: 403 (see
// signupSource). A trapped bot (see trap.go): the success answer, with
// nothing stored or sent. Errors are answered by fail, as JSON for JSON
// requests.
func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	w.Header().Add("Vary", "Origin")
	if origin := r.Header.Get("Origin"); s.corsOrigin(origin) {
		// Set before decoding, so a listed page can read why a sign-up failed.
		w.Header().Set("Access-Control-Allow-Origin", origin)
	}
	in, err := decodeSignup(r, mediaType)
	if err != nil {
		s.signupFailed(w, r, in, err)
		return
	}
	m, known := s.Catalog.Get(strings.TrimSpace(in.Magnet))
	if err := s.signupSource(r, m, known); err != nil {
		s.fail(w, r, err)
		return
	}
	req := in.SignupRequest
	req.Evidence = evidence(r)
	req.PageURL = pageURL(r)
	req.IdempotencyKey = r.Header.Get("Idempotency-Key")
	if len(req.IdempotencyKey) > consent.MaxIdempotencyKey {
		s.signupFailed(w, r, in, invalid("idempotency_key", "The Idempotency-Key header is too long."))
		return
	}
	if reason := s.trapReason(in); reason != "" {
		s.logTrapped(r, reason, m, known)
		if !known {
			// Answered as a real sign-up for no such download is.
			s.signupFailed(w, r, in, invalid("magnet", "This download does not exist."))
			return
		}
		// A trapped post counts against its source like a real one, so a
		// bot that keeps filling the honeypot is slowed down too.
		if err := s.Service.CheckSource(r.Context(), req.SourceIP); err != nil {
			s.countRateLimited(r, err, m, known)
			s.fail(w, r, err)
			return
		}
		s.accepted(w, r, m, in)
		return
	}
	if err := s.Service.Signup(r.Context(), req); err != nil {
		s.countRateLimited(r, err, m, known)
		s.signupFailed(w, r, in, err)
		return
	}
	s.accepted(w, r, m, in)
}

// signupFailed answers a sign-up that failed with err. A form whose input
// is invalid gets its form again (reshowSignup) if it names a configured
// download, the 404 page if it names one that is not; anything else, and
// every JSON request, is answered by fail.
func (s *Server) signupFailed(w http.ResponseWriter, r *http.Request, in signupForm, err error) {
	var verr *consent.ValidationError
	if wantsJSON(r) || !errors.As(err, &verr) {
		s.fail(w, r, err)
		return
	}
	id := strings.TrimSpace(in.Magnet)
	m, known := s.Catalog.Get(id)
	switch {
	case known:
		s.reshowSignup(w, r, m, in, verr.Fields)
	case id != "" && verr.Fields["magnet"] != "":
		s.fail(w, r, errUnknownDownload)
	default:
		s.fail(w, r, err)
	}
}

// confirmHint is the thank-you page's query parameter saying a box was
// ticked on a double opt-in magnet, so the page tells the visitor to
// confirm from the email. It changes wording only: it is taken from what
// the form sent, never from what was stored, so it reveals nothing about
// the address, and a hand-made link with it claims nothing.
const confirmHint = "confirm"

// accepted answers sign-up in for m that was taken (or trapped, which must
// look the same): a form goes to m's thank-you page, with confirmHint if a
// box was ticked and m asks for confirmation.
func (s *Server) accepted(w http.ResponseWriter, r *http.Request, m magnet.Magnet, in signupForm) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "accepted"})
		return
	}
	target := m.ThankYouURL
	if target == "" {
		target = s.link(r, "/thanks?magnet="+url.QueryEscape(m.ID))
		if m.RequiresConfirmation() && (in.Consent || len(in.Purposes) > 0) {
			target += "&" + confirmHint + "=1"
		}
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// signupPreflight answers CORS preflights for JSON sign-ups from any origin
// listed by a configured magnet; other origins get no CORS headers.
func (s *Server) signupPreflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Add("Vary", "Origin")
	if origin := r.Header.Get("Origin"); s.corsOrigin(origin) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Methods", "POST")
		h.Set("Access-Control-Allow-Headers", "Content-Type, Idempotency-Key")
		h.Set("Access-Control-Max-Age", "600")
	}
	w.WriteHeader(http.StatusNoContent)
}

// thanks is the built-in thank-you page for magnets without their own,
// with the magnet's short privacy notice and a link to the full one; with
// confirmHint=1, on a magnet that asks for confirmation, it says to confirm
// from the email. A request naming no magnet gets the not-found page as a
// 400, an unknown magnet as a 404.
func (s *Server) thanks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m, known := s.Catalog.Get(q.Get("magnet"))
	switch {
	case q.Get("magnet") == "":
		s.render(w, r, http.StatusBadRequest, "not_found", failurePage{Download: true, WithdrawURL: s.withdrawURL(r)})
		return
	case !known:
		s.fail(w, r, errUnknownDownload)
		return
	}
	page := struct {
		magnet.Magnet
		Notice  noticeLink
		Confirm bool
	}{Magnet: m, Notice: s.noticeLinkFor(r, m), Confirm: q.Get(confirmHint) == "1" && m.RequiresConfirmation()}
	s.render(w, r, http.StatusOK, "thanks", page)
}
