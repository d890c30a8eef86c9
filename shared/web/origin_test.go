package web_test

import (
	"net/http"
	"strings"
	"testing"
)

const (
	ownOrigin    = "https://signup.example.com" // the sample service's base URL
	magnetOrigin = "http://127.0.0.1:8080"      // listed in the sample magnet's allowed_origins
)

// Browser requests from pages that may not post here are refused (403)
// before anything is stored or sent; requests without browser headers (API
// clients, mail providers) and from allowed pages go through.
func TestPostOrigins(t *testing.T) {
	e := newEnv(t)
	e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
	unsubscribe, confirm := unsubscribePath(t, e), confirmPath(t, e)
	resend := strings.Replace(confirm, "/confirm?", "/confirm/resend?", 1)

	type post struct{ name, target, body string }
	signup := post{"signup", "/signup", "email=bob%40example.com&magnet=uk-gdpr-checklist"}
	own := []post{
		{"withdraw", "/withdraw", "email=bob%40example.com"},
		{"confirm", confirm, "confirm=yes"},
		{"confirm resend", resend, ""},
		{"unsubscribe button", unsubscribe, "confirm=yes"},
	}
	tests := []struct {
		name    string
		headers []string
		want    map[string]bool // post name → allowed; "own" stands for every post in own
	}{
		{"no browser headers", nil, map[string]bool{"signup": true, "own": true}},
		{"own origin", []string{"Origin", ownOrigin}, map[string]bool{"signup": true, "own": true}},
		{"own origin, other case", []string{"Origin", "HTTPS://Signup.Example.com"}, map[string]bool{"signup": true, "own": true}},
		{"magnet's landing page", []string{"Origin", magnetOrigin, "Sec-Fetch-Site", "cross-site"}, map[string]bool{"signup": true, "own": false}},
		{"other site", []string{"Origin", "https://evil.example"}, map[string]bool{"signup": false, "own": false}},
		{"opaque origin", []string{"Origin", "null"}, map[string]bool{"signup": false, "own": false}},
		{"cross-site without origin", []string{"Sec-Fetch-Site", "cross-site"}, map[string]bool{"signup": false, "own": false}},
		{"same-origin without origin", []string{"Sec-Fetch-Site", "same-origin"}, map[string]bool{"signup": true, "own": true}},
		{"same-site without origin", []string{"Sec-Fetch-Site", "same-site"}, map[string]bool{"signup": true, "own": true}},
		{"typed by the user", []string{"Sec-Fetch-Site", "none"}, map[string]bool{"signup": true, "own": true}},
		{"referer on this service", []string{"Referer", ownOrigin + "/withdraw"}, map[string]bool{"signup": true, "own": true}},
		{"referer on the landing page", []string{"Referer", magnetOrigin + "/offer?x=1"}, map[string]bool{"signup": true, "own": false}},
		{"referer on another site", []string{"Referer", "https://evil.example/page"}, map[string]bool{"signup": false, "own": false}},
		{"referer that is not a URL", []string{"Referer", "::"}, map[string]bool{"signup": false, "own": false}},
		{"allowed origin wins over an odd referer", []string{"Origin", ownOrigin, "Referer", "https://evil.example/"}, map[string]bool{"signup": true, "own": true}},
	}
	for _, tt := range tests {
		for _, p := range append([]post{signup}, own...) {
			want := tt.want["own"]
			if p.name == "signup" {
				want = tt.want["signup"]
			}
			t.Run(tt.name+"/"+p.name, func(t *testing.T) {
				writes, mails := e.store.Writes(), len(e.mailer.Sent())
				w := e.do(t, "POST", p.target, form, p.body, tt.headers...)
				if got := w.Code != http.StatusForbidden; got != want {
					t.Fatalf("allowed: got %v (status %d), want %v", got, w.Code, want)
				}
				if !want && (e.store.Writes() != writes || len(e.mailer.Sent()) != mails) {
					t.Errorf("refused post wrote %d times and sent %d mails, want none", e.store.Writes()-writes, len(e.mailer.Sent())-mails)
				}
				if !want && !strings.Contains(w.Body.String(), "Form not accepted") {
					t.Errorf("refusal page: %s", w.Body)
				}
			})
		}
	}
}

// The RFC 8058 one-click POST comes from a mail provider's server: no Origin
// and no Sec-Fetch-Site. It works whatever else it carries; the same body
// from a browser on another site is refused.
func TestOneClickUnsubscribeOrigins(t *testing.T) {
	tests := []struct {
		name       string
		headers    []string
		wantStatus int
	}{
		{"mail provider", nil, http.StatusOK},
		{"mail provider with a referer", []string{"Referer", "https://mail.example/inbox"}, http.StatusOK},
		{"own page", []string{"Origin", ownOrigin}, http.StatusOK},
		{"other site", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"opaque origin", []string{"Origin", "null"}, http.StatusForbidden},
		{"cross-site without origin", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
			w := e.do(t, "POST", unsubscribePath(t, e), form, "List-Unsubscribe=One-Click", tt.headers...)
			if w.Code != tt.wantStatus {
				t.Errorf("status: got %d, want %d", w.Code, tt.wantStatus)
			}
		})
	}
}

// Access-Control-Allow-Origin only ever names an origin a magnet lists.
func TestSignupCORSEchoesOnlyConfiguredOrigins(t *testing.T) {
	body := `{"email":"ann@example.com","magnet":"uk-gdpr-checklist"}`
	tests := []struct {
		origin, body string
		wantStatus   int
		wantCORS     string
	}{
		{magnetOrigin, body, 202, magnetOrigin},
		{magnetOrigin, `{"email":`, 400, magnetOrigin}, // the page can read why
		{ownOrigin, body, 202, ""},
		{"null", body, 403, ""},
		{"https://evil.example", body, 403, ""},
		{"https://evil.example", `{"email":`, 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			e := newEnv(t)
			w := e.do(t, "POST", "/signup", "application/json", tt.body, "Origin", tt.origin)
			if w.Code != tt.wantStatus {
				t.Errorf("status: got %d, want %d", w.Code, tt.wantStatus)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != tt.wantCORS {
				t.Errorf("Access-Control-Allow-Origin: got %q, want %q", got, tt.wantCORS)
			}
		})
	}
	for _, origin := range []string{"null", "https://evil.example", ownOrigin, ""} {
		e := newEnv(t)
		w := e.do(t, "OPTIONS", "/signup", "", "", "Origin", origin, "Access-Control-Request-Method", "POST")
		if got := w.Header().Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("preflight from %q: Access-Control-Allow-Origin %q, want none", origin, got)
		}
	}
}

// A refusal is logged with the origin and magnet but nothing personal, and
// the page offers the magnet's own site.
func TestOriginRefusalLogAndPage(t *testing.T) {
	e := newEnv(t)
	w := e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes",
		"Origin", "https://evil.example", "User-Agent", "agent-007")
	if w.Code != http.StatusForbidden {
		t.Fatalf("status: got %d, want 403", w.Code)
	}
	if body := w.Body.String(); !strings.Contains(body, `href="`+magnetOrigin+`"`) {
		t.Errorf("refusal page has no link to the magnet's site %s: %s", magnetOrigin, body)
	}
	logs := e.logs.String()
	for _, want := range []string{`"origin_refused"`, `"origin":"https://evil.example"`, `"magnet":"uk-gdpr-checklist"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s: %s", want, logs)
		}
	}
	for _, personal := range []string{"ann", "agent-007", "192.0.2.1"} {
		if strings.Contains(logs, personal) {
			t.Errorf("logs contain %q: %s", personal, logs)
		}
	}
}

// Our pages must let browsers send their real Origin on form posts: under
// "Referrer-Policy: no-referrer" they send "Origin: null", which is refused.
func TestReferrerPolicyKeepsOrigin(t *testing.T) {
	e := newEnv(t)
	w := e.do(t, "GET", "/withdraw", "", "")
	if got, want := w.Header().Get("Referrer-Policy"), "same-origin"; got != want {
		t.Errorf("Referrer-Policy: got %q, want %q", got, want)
	}
}
