package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
)

// An ambiguous sign-up (a field twice, a field also in the URL, a JSON
// object a lenient parser reads differently) is refused naming the field,
// and nothing is stored or sent.
func TestSignupRefusesAmbiguousInput(t *testing.T) {
	const ok = `"email":"ann@example.com","magnet":"uk-gdpr-checklist"`
	tests := []struct {
		name, target, contentType, body string
		wantField                       string
	}{
		{"form consent twice", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes&marketing_consent=no", "marketing_consent"},
		{"form consent twice, both yes", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes&marketing_consent=yes", "marketing_consent"},
		{"form email twice", "/signup", form, "email=ann%40example.com&email=bob%40example.com&magnet=uk-gdpr-checklist", "email"},
		{"form magnet twice", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&magnet=uk-gdpr-checklist", "magnet"},
		{"form consent in the URL", "/signup?marketing_consent=yes", form, "email=ann%40example.com&magnet=uk-gdpr-checklist", "marketing_consent"},
		{"form email in the URL too", "/signup?email=bob%40example.com", form, "email=ann%40example.com&magnet=uk-gdpr-checklist", "email"},
		{"multipart consent twice", "/signup", "multipart/form-data; boundary=XX", multipart("email", "ann@example.com", "magnet", "uk-gdpr-checklist", "marketing_consent", "yes", "marketing_consent", "no"), "marketing_consent"},
		{"json duplicate email", "/signup", "application/json", `{` + ok + `,"email":"bob@example.com"}`, "email"},
		{"json duplicate consent", "/signup", "application/json", `{` + ok + `,"marketing_consent":true,"marketing_consent":false}`, "marketing_consent"},
		{"json duplicate by escape", "/signup", "application/json", `{` + ok + `,"marketing_consent":false,"marketing\u005fconsent":true}`, "marketing_consent"},
		{"json name in other case", "/signup", "application/json", `{` + ok + `,"Marketing_Consent":true}`, "Marketing_Consent"},
		{"json unknown field", "/signup", "application/json", `{` + ok + `,"admin":true}`, "admin"},
		{"json wrong type", "/signup", "application/json", `{"email":5,"magnet":"uk-gdpr-checklist"}`, "email"},
		{"json trailing object", "/signup", "application/json", `{` + ok + `} {"marketing_consent":true}`, "body"},
		{"json trailing garbage", "/signup", "application/json", `{` + ok + `}x`, "body"},
		{"json array", "/signup", "application/json", `[{` + ok + `}]`, "body"},
		{"json null", "/signup", "application/json", `null`, "body"},
		{"json string", "/signup", "application/json", `"hello"`, "body"},
		{"json empty", "/signup", "application/json", ``, "body"},
		{"json field in the URL", "/signup?marketing_consent=yes", "application/json", `{` + ok + `}`, "marketing_consent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			w := e.do(t, "POST", tt.target, tt.contentType, tt.body)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status: got %d, want 400 (%s)", w.Code, w.Body)
			}
			if tt.contentType == "application/json" {
				var got struct{ Errors map[string]string }
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Errors[tt.wantField] == "" {
					t.Errorf("body %s: want errors.%s", w.Body, tt.wantField)
				}
			} else if !strings.Contains(w.Body.String(), tt.wantField) {
				t.Errorf("page does not name %s: %s", tt.wantField, w.Body)
			}
			if e.store.Writes() != 0 || len(e.mailer.Sent()) != 0 {
				t.Errorf("got %d writes and %d mails, want none", e.store.Writes(), len(e.mailer.Sent()))
			}
		})
	}
}

func multipart(pairs ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(pairs); i += 2 {
		b.WriteString("--XX\r\nContent-Disposition: form-data; name=\"" + pairs[i] + "\"\r\n\r\n" + pairs[i+1] + "\r\n")
	}
	b.WriteString("--XX--\r\n")
	return b.String()
}

func TestSignupJSONConsentValues(t *testing.T) {
	tests := []struct {
		value       string
		wantGranted bool
	}{
		{`true`, true}, {`"yes"`, true}, {`"on"`, true}, {`"true"`, true}, {`"y\u0065s"`, true},
		{`false`, false}, {`null`, false}, {`"no"`, false}, {`"YES"`, false}, {`"yes "`, false},
		{`1`, false}, {`"1"`, false}, {`[true]`, false}, {`{"yes":true}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			e := newEnv(t)
			w := e.do(t, "POST", "/signup", "application/json", `{"email":"ann@example.com","magnet":"uk-gdpr-checklist","marketing_consent":`+tt.value+`}`)
			if w.Code != http.StatusAccepted {
				t.Fatalf("status: got %d, want 202 (%s)", w.Code, w.Body)
			}
			if got := consent.MarketingStatus(e.ledger(t, "ann@example.com"), consenttest.SamplePurpose).Consented(); got != tt.wantGranted {
				t.Errorf("granted: got %v, want %v", got, tt.wantGranted)
			}
		})
	}
}

// Every POST that reads a form refuses a field it reads sent twice or also
// put in the URL, naming it, and changes nothing.
func TestLinkFormsRefuseAmbiguousInput(t *testing.T) {
	e := newEnv(t)
	e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
	unsubscribe, confirm := unsubscribePath(t, e), confirmPath(t, e)
	writes, mails := e.store.Writes(), len(e.mailer.Sent())
	tests := []struct {
		name, target, body, wantField string
	}{
		{"one-click twice", unsubscribe, "List-Unsubscribe=One-Click&List-Unsubscribe=One-Click", "List-Unsubscribe"},
		{"unsubscribe button twice", unsubscribe, "confirm=yes&confirm=yes", "confirm"},
		{"unsubscribe button in the URL too", unsubscribe + "&confirm=yes", "confirm=yes", "confirm"},
		{"one-click in the URL", unsubscribe + "&List-Unsubscribe=One-Click", "", "List-Unsubscribe"},
		{"confirm button twice", confirm, "confirm=yes&confirm=yes", "confirm"},
		{"confirm button in the URL", confirm + "&confirm=yes", "", "confirm"},
		{"withdraw email twice", "/withdraw", "email=ann%40example.com&email=bob%40example.com", "email"},
		{"withdraw email in the URL", "/withdraw?email=ann%40example.com", "email=bob%40example.com", "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do(t, "POST", tt.target, form, tt.body)
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tt.wantField) {
				t.Errorf("got %d, want 400 naming %s: %s", w.Code, tt.wantField, w.Body)
			}
		})
	}
	if e.store.Writes() != writes || len(e.mailer.Sent()) != mails {
		t.Errorf("refused posts wrote %d times and sent %d mails, want none", e.store.Writes()-writes, len(e.mailer.Sent())-mails)
	}
}
