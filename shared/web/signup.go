package web

import (
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// signup handles POST /signup from an HTML form (303 to the thank-you page)
// or JSON (202 {"status":"accepted"}). Bad or ambiguous input: 400 with a
// message per field (see decodeSignup). A browser page the magnet does not
// allow: 403 (see signupSource). A trapped bot (see trap.go): the success
// answer, with nothing stored or sent. Errors are answered by fail, as JSON
// for JSON requests.
func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	w.Header().Add("Vary", "Origin")
	if origin := r.Header.Get("Origin"); s.corsOrigin(origin) {
		// Set before decoding, so a listed page can read why a sign-up failed.
		w.Header().Set("Access-Control-Allow-Origin", origin)
	}
	in, err := decodeSignup(r, mediaType)
	if err != nil {
		s.fail(w, r, err)
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
		s.fail(w, r, invalid("idempotency_key", "The Idempotency-Key header is too long."))
		return
	}
	if reason := s.trapReason(in); reason != "" {
		s.logTrapped(r, reason, m, known)
		// A trapped post counts against its source like a real one, so a
		// bot that keeps filling the honeypot is slowed down too.
		if err := s.Service.CheckSource(r.Context(), req.SourceIP); err != nil {
			s.fail(w, r, err)
			return
		}
		s.accepted(w, r, m)
		return
	}
	if err := s.Service.Signup(r.Context(), req); err != nil {
		s.fail(w, r, err)
		return
	}
	s.accepted(w, r, m)
}

// accepted answers a sign-up for m that was taken (or trapped, which must
// look the same).
func (s *Server) accepted(w http.ResponseWriter, r *http.Request, m magnet.Magnet) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "accepted"})
		return
	}
	target := m.ThankYouURL
	if target == "" {
		target = s.link(r, "/thanks?magnet="+url.QueryEscape(m.ID))
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
// with the magnet's short privacy notice and a link to the full one.
func (s *Server) thanks(w http.ResponseWriter, r *http.Request) {
	m, known := s.Catalog.Get(r.URL.Query().Get("magnet"))
	page := struct {
		magnet.Magnet
		Notice noticeLink
	}{Magnet: m}
	if known {
		page.Notice = s.noticeLinkFor(r, m)
	}
	s.render(w, r, http.StatusOK, "thanks", page)
}
