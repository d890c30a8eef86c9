package web

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/unbundled/unbundled/shared/consent"
)

// consentValues are the only checkbox values that mean "yes". Anything else,
// or no field at all, means consent was not given.
var consentValues = map[string]bool{"yes": true, "on": true, "true": true}

type signupJSON struct {
	Email            string          `json:"email"`
	Magnet           string          `json:"magnet"`
	Name             string          `json:"name"`
	MarketingConsent json.RawMessage `json:"marketing_consent"`
	ConsentVersion   string          `json:"consent_version"`
}

// signup handles POST /signup from an HTML form (303 to the thank-you page)
// or JSON (202 {"status":"accepted"}). Bad input: 400 with a message per
// field, and nothing stored or sent. Errors are answered by fail, as JSON
// for JSON requests.
func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isJSON := wantsJSON(r)
	req, err := decodeSignup(r, mediaType)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		if !s.originAllowed(r, origin, req.Magnet) {
			s.fail(w, r, errOriginNotAllowed)
			return
		}
		if isJSON {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Add("Vary", "Origin")
		}
	}
	req.Evidence = evidence(r)
	req.IdempotencyKey = r.Header.Get("Idempotency-Key")
	if len(req.IdempotencyKey) > consent.MaxIdempotencyKey {
		s.fail(w, r, &consent.ValidationError{Fields: map[string]string{"idempotency_key": "The Idempotency-Key header is too long."}})
		return
	}
	if err := s.Service.Signup(r.Context(), req); err != nil {
		s.fail(w, r, err)
		return
	}
	if isJSON {
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "accepted"})
		return
	}
	m, _ := s.Catalog.Get(req.Magnet)
	target := m.ThankYouURL
	if target == "" {
		target = s.link(r, "/thanks?magnet="+url.QueryEscape(m.ID))
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func decodeSignup(r *http.Request, mediaType string) (consent.SignupRequest, error) {
	var req consent.SignupRequest
	switch mediaType {
	case "application/json":
		var body signupJSON
		dec := json.NewDecoder(r.Body)
		if err := dec.Decode(&body); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return req, err
			}
			return req, &consent.ValidationError{Fields: map[string]string{"body": "Send a JSON object with email, magnet, name and marketing_consent."}}
		}
		req = consent.SignupRequest{Email: body.Email, Magnet: body.Magnet, Name: body.Name, Method: consent.MethodJSON, WordingVersion: body.ConsentVersion}
		req.Consent = jsonConsent(body.MarketingConsent)
	case "application/x-www-form-urlencoded", "multipart/form-data":
		if err := parseForm(r, mediaType); err != nil {
			return req, err
		}
		req = consent.SignupRequest{
			Email: r.PostForm.Get("email"), Magnet: r.PostForm.Get("magnet"), Name: r.PostForm.Get("name"),
			Consent: consentValues[r.PostForm.Get("marketing_consent")], Method: consent.MethodForm,
			WordingVersion: r.PostForm.Get("consent_version"),
		}
	default:
		return req, &consent.ValidationError{Fields: map[string]string{"body": "Send the form as application/x-www-form-urlencoded or application/json."}}
	}
	return req, nil
}

// jsonConsent accepts true or one of the consent strings; anything else
// (false, null, absent, other strings, numbers) is no consent.
func jsonConsent(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return consentValues[s]
	}
	return false
}

// parseForm reads an urlencoded or multipart body into r.PostForm. A body
// that is not valid is a validation error, a body over the limit is 413.
func parseForm(r *http.Request, mediaType string) error {
	var err error
	if mediaType == "multipart/form-data" {
		err = r.ParseMultipartForm(maxBodyBytes)
	} else {
		err = r.ParseForm()
	}
	var tooBig *http.MaxBytesError
	if err != nil && !errors.As(err, &tooBig) {
		return &consent.ValidationError{Fields: map[string]string{"body": "The form could not be read."}}
	}
	return err
}

// originAllowed: a browser post from another site is accepted only from the
// magnet's listed landing-page origins (or an opaque "null" origin such as a
// saved file). Unknown magnets pass here and fail validation instead.
func (s *Server) originAllowed(r *http.Request, origin, magnetID string) bool {
	m, ok := s.Catalog.Get(strings.TrimSpace(magnetID))
	if !ok || origin == "null" || origin == s.ownOrigin(r) {
		return true
	}
	return m.AllowsOrigin(origin)
}

func (s *Server) ownOrigin(r *http.Request) string {
	u, err := url.Parse(s.Service.LinkBase(r.Context()))
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// signupPreflight answers CORS preflights for JSON sign-ups from any origin
// listed by a configured magnet; other origins get no CORS headers.
func (s *Server) signupPreflight(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	for _, m := range s.Catalog.All() {
		if origin != "" && m.AllowsOrigin(origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", "POST")
			h.Set("Access-Control-Allow-Headers", "Content-Type, Idempotency-Key")
			h.Set("Access-Control-Max-Age", "600")
			h.Add("Vary", "Origin")
			break
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// thanks is the built-in thank-you page for magnets without their own.
func (s *Server) thanks(w http.ResponseWriter, r *http.Request) {
	m, _ := s.Catalog.Get(r.URL.Query().Get("magnet"))
	s.render(w, r, http.StatusOK, "thanks", m)
}
