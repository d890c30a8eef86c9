package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/token"
	"github.com/unbundled/unbundled/shared/web"
)

const formMinAge = 2 * time.Second

// stampAt signs a form stamp for magnetID as if its form was rendered at issued.
func stampAt(e *env, magnetID string, issued time.Time) string {
	return e.svc.Keys.Signing.Sign(token.Claims{Purpose: "form-stamp", Scope: magnetID, Expires: issued.Add(7 * 24 * time.Hour)})
}

// alter changes one character in the middle of the token's mac.
func alter(tok string) string {
	i := strings.LastIndex(tok, ".") + 5
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

func TestLandingPageFormsCarryTheTrap(t *testing.T) {
	e := newEnv(t, func(s *web.Server) { s.FormMinAge = formMinAge })
	w := httptest.NewRecorder()
	e.srv.LandingPage(w, httptest.NewRequest("GET", "/", nil))
	body := w.Body.String()
	honeypot := regexp.MustCompile(`<input [^>]*name="website"[^>]*>`).FindString(body)
	for _, want := range []string{`type="text"`, `tabindex="-1"`, `autocomplete="off"`, `value=""`} {
		if !strings.Contains(honeypot, want) {
			t.Errorf("honeypot %q lacks %s", honeypot, want)
		}
	}
	if !regexp.MustCompile(`aria-hidden="true"[^>]*>\s*<label for="website-uk-gdpr-checklist">[^<]*empty`).MatchString(body) {
		t.Errorf("honeypot is not in an aria-hidden box with a label asking to leave it empty:\n%s", body)
	}
	m := regexp.MustCompile(`<input type="hidden" name="form_stamp" value="([^"]+)">`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form_stamp in the form:\n%s", body)
	}
	c, err := e.svc.Keys.Signing.Verify("form-stamp", m[1], time.Now())
	if err != nil || c.Scope != "uk-gdpr-checklist" {
		t.Fatalf("stamp %q: claims %+v, error %v; want a form-stamp for uk-gdpr-checklist", m[1], c, err)
	}
	if issued := c.Expires.Add(-7 * 24 * time.Hour); time.Since(issued) > time.Minute || time.Since(issued) < -time.Second {
		t.Errorf("stamp issued at %v, want about now", issued)
	}

	// The form as a browser would post it: too soon, then after a human's pause.
	post := "email=ann%40example.com&magnet=uk-gdpr-checklist&website=&form_stamp=" + url.QueryEscape(m[1])
	if w := e.do(t, "POST", "/signup", form, post); w.Code != http.StatusSeeOther || e.store.Writes() != 0 {
		t.Fatalf("posted at once: got %d and %d writes, want 303 and none", w.Code, e.store.Writes())
	}
	e.svc.Now = func() time.Time { return time.Now().Add(formMinAge + time.Second) }
	if w := e.do(t, "POST", "/signup", form, post); w.Code != http.StatusSeeOther || len(e.mailer.Sent()) != 1 {
		t.Errorf("posted after a pause: got %d and %d mails, want 303 and the freebie", w.Code, len(e.mailer.Sent()))
	}
}

// A trapped sign-up gets the very answer a real one gets, and nothing is
// stored or sent.
func TestSignupTraps(t *testing.T) {
	now := time.Now()
	const magnetID = "uk-gdpr-checklist"
	tests := []struct {
		name       string
		minAge     time.Duration
		extra      func(e *env) url.Values
		wantReason string // "" for a real sign-up
	}{
		{"no stamp", formMinAge, func(*env) url.Values { return nil }, ""},
		{"empty honeypot, old stamp", formMinAge, func(e *env) url.Values {
			return url.Values{"website": {""}, "form_stamp": {stampAt(e, magnetID, now.Add(-time.Minute))}}
		}, ""},
		{"stamp just old enough", formMinAge, func(e *env) url.Values {
			return url.Values{"form_stamp": {stampAt(e, magnetID, now.Add(-formMinAge-time.Second))}}
		}, ""},
		{"fresh stamp, no minimum", 0, func(e *env) url.Values {
			return url.Values{"form_stamp": {stampAt(e, magnetID, now)}}
		}, ""},
		{"honeypot filled", formMinAge, func(*env) url.Values { return url.Values{"website": {"https://spam.example"}} }, "honeypot"},
		{"honeypot filled, good stamp", formMinAge, func(e *env) url.Values {
			return url.Values{"website": {"x"}, "form_stamp": {stampAt(e, magnetID, now.Add(-time.Minute))}}
		}, "honeypot"},
		{"stamp too young", formMinAge, func(e *env) url.Values {
			return url.Values{"form_stamp": {stampAt(e, magnetID, now.Add(-time.Second))}}
		}, "too_fast"},
		{"stamp from the future", formMinAge, func(e *env) url.Values {
			return url.Values{"form_stamp": {stampAt(e, magnetID, now.Add(time.Hour))}}
		}, "too_fast"},
		{"forged stamp", formMinAge, func(e *env) url.Values {
			return url.Values{"form_stamp": {alter(stampAt(e, magnetID, now.Add(-time.Minute)))}}
		}, "bad_stamp"},
		{"stamp from a tab left open for three days", formMinAge, func(e *env) url.Values {
			return url.Values{"form_stamp": {stampAt(e, magnetID, now.Add(-3*24*time.Hour))}}
		}, ""},
		{"expired stamp", formMinAge, func(e *env) url.Values {
			return url.Values{"form_stamp": {stampAt(e, magnetID, now.Add(-8*24*time.Hour))}}
		}, "bad_stamp"},
		{"stamp for another magnet", formMinAge, func(e *env) url.Values {
			return url.Values{"form_stamp": {stampAt(e, "other-magnet", now.Add(-time.Minute))}}
		}, "bad_stamp"},
		{"unsubscribe token as stamp", formMinAge, func(e *env) url.Values {
			return url.Values{"form_stamp": {e.svc.Keys.Signing.Sign(token.Claims{Purpose: "unsubscribe", Subject: "s", Scope: magnetID})}}
		}, "bad_stamp"},
		{"garbage stamp", formMinAge, func(*env) url.Values { return url.Values{"form_stamp": {"nope"}} }, "bad_stamp"},
	}
	for _, tt := range tests {
		for _, asJSON := range []bool{false, true} {
			name := tt.name + "/form"
			if asJSON {
				name = tt.name + "/json"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t, func(s *web.Server) { s.FormMinAge = tt.minAge })
				e.svc.Now = func() time.Time { return now }
				fields := url.Values{"email": {"ann@example.com"}, "magnet": {magnetID}, "marketing_consent": {"yes"}}
				for k, v := range tt.extra(e) {
					fields[k] = v
				}
				var w *httptest.ResponseRecorder
				if asJSON {
					obj := map[string]string{}
					for k := range fields {
						obj[k] = fields.Get(k)
					}
					body, _ := json.Marshal(obj)
					w = e.do(t, "POST", "/signup", "application/json", string(body))
					if w.Code != http.StatusAccepted || strings.TrimSpace(w.Body.String()) != `{"status":"accepted"}` {
						t.Fatalf("got %d %s, want 202 {\"status\":\"accepted\"}", w.Code, w.Body)
					}
				} else {
					w = e.do(t, "POST", "/signup", form, fields.Encode())
					// The box is ticked on a double opt-in magnet: the thank-you
					// page is told to ask for confirmation, trapped or not.
					if got, want := w.Header().Get("Location"), "https://signup.example.com/thanks?magnet="+magnetID+"&confirm=1"; w.Code != http.StatusSeeOther || got != want {
						t.Fatalf("got %d to %q, want 303 to %q", w.Code, got, want)
					}
				}
				stored := e.store.Writes() != 0 || len(e.mailer.Sent()) != 0
				if want := tt.wantReason == ""; stored != want {
					t.Errorf("stored or sent: got %v, want %v (%d writes, %d mails)", stored, want, e.store.Writes(), len(e.mailer.Sent()))
				}
				logs := e.logs.String()
				trapped := strings.Contains(logs, `"msg":"signup trapped"`)
				if trapped != (tt.wantReason != "") {
					t.Errorf("trap log line: got %v, want %v:\n%s", trapped, tt.wantReason != "", logs)
				}
				if tt.wantReason != "" {
					for _, want := range []string{`"metric":"signup_trapped"`, `"reason":"` + tt.wantReason + `"`, `"magnet":"` + magnetID + `"`} {
						if !strings.Contains(logs, want) {
							t.Errorf("logs lack %s:\n%s", want, logs)
						}
					}
					if strings.Contains(logs, "ann@example.com") || fields.Get("form_stamp") != "" && strings.Contains(logs, fields.Get("form_stamp")) {
						t.Errorf("logs hold the address or the stamp:\n%s", logs)
					}
				}
			})
		}
	}
}

// A bot that keeps filling the honeypot is counted against its source like
// anyone else: past the limit it gets 429, and still nothing is stored.
func TestTrappedPostsCountAgainstTheSource(t *testing.T) {
	e := newEnv(t, func(s *web.Server) {
		s.Service.Limits = consent.Limits{SignupsPerSource: 2, SourceWindow: 10 * time.Minute}
	})
	body := "email=bot%40example.com&magnet=uk-gdpr-checklist&website=http%3A%2F%2Fspam.example"
	for i, want := range []int{http.StatusSeeOther, http.StatusSeeOther, http.StatusTooManyRequests} {
		if w := e.do(t, "POST", "/signup", form, body); w.Code != want {
			t.Errorf("trapped post %d: got %d, want %d", i+1, w.Code, want)
		}
	}
	if got := e.ledger(t, "bot@example.com"); len(got) != 0 {
		t.Errorf("trapped posts stored %d events", len(got))
	}
}
