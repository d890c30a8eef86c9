package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// privacyLinkFor signs ann@example.com up (with the box ticked), asks for
// a data-request link of kind and returns it as the email carries it.
func (e *env) privacyLinkFor(t *testing.T, kind string) string {
	t.Helper()
	if len(e.ledger(t, "ann@example.com")) == 0 {
		if w := e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes"); w.Code != http.StatusSeeOther {
			t.Fatalf("sign-up: %d", w.Code)
		}
	}
	before := len(e.mailer.Sent())
	if w := e.do(t, "POST", "/privacy", form, "email=ann%40example.com&request="+kind); w.Code != http.StatusOK {
		t.Fatalf("POST /privacy: %d %s", w.Code, w.Body)
	}
	sent := e.mailer.Sent()
	if len(sent) != before+1 {
		t.Fatalf("POST /privacy: %d emails sent, want 1", len(sent)-before)
	}
	return linkIn(t, sent[len(sent)-1].Text, "/privacy/confirm")
}

func TestPrivacyRequestAnswersAlike(t *testing.T) {
	e := newEnv(t)
	e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist")
	before := len(e.mailer.Sent())

	var bodies []string
	for _, body := range []string{
		"email=ann%40example.com&request=export",    // known
		"email=nobody%40example.com&request=export", // unknown
		"email=ann%40example.com&request=export",    // repeated within the window
		"request=erase&email=nobody%40example.com",  // unknown, other kind
	} {
		w := e.do(t, "POST", "/privacy", form, body)
		if w.Code != http.StatusOK {
			t.Errorf("%s: status %d, want 200", body, w.Code)
		}
		bodies = append(bodies, w.Body.String())
	}
	for i, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("answer %d differs from the known address's:\n%s\nwant:\n%s", i+2, b, bodies[0])
		}
	}
	if !strings.Contains(bodies[0], "If we hold data for that address, we have emailed it a link") || !strings.Contains(bodies[0], "24 hours") {
		t.Errorf("answer does not say what happens next:\n%s", bodies[0])
	}
	if got := len(e.mailer.Sent()) - before; got != 1 {
		t.Errorf("links sent: %d, want 1 (to the known address, once)", got)
	}
}

func TestPrivacyRequestRefusals(t *testing.T) {
	tests := []struct {
		name, target, body string
		headers            []string
		wantStatus         int
		wantText           string
	}{
		{"invalid address", "/privacy", "email=nope&request=export", nil, 400, "Enter a valid email address"},
		{"no choice", "/privacy", "email=ann%40example.com", nil, 400, "Choose what you want"},
		{"unknown choice", "/privacy", "email=ann%40example.com&request=everything", nil, 400, "Choose what you want"},
		{"choice twice", "/privacy", "email=ann%40example.com&request=export&request=erase", nil, 400, "more than once"},
		{"address in the URL", "/privacy?email=ann%40example.com", "email=ann%40example.com&request=erase", nil, 400, "was in the link"},
		{"another site's form", "/privacy", "email=ann%40example.com&request=erase", []string{"Origin", "https://elsewhere.example"}, 403, "Open the form to ask for your data"},
		{"cross-site without Origin", "/privacy", "email=ann%40example.com&request=erase", []string{"Sec-Fetch-Site", "cross-site"}, 403, "Form not accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.do(t, "POST", "/signup", form, "email=ann%40example.com&magnet=uk-gdpr-checklist")
			before, writes := len(e.mailer.Sent()), e.store.Writes()
			w := e.do(t, "POST", tt.target, form, tt.body, tt.headers...)
			if w.Code != tt.wantStatus || !strings.Contains(w.Body.String(), tt.wantText) {
				t.Errorf("got %d, want %d with %q:\n%s", w.Code, tt.wantStatus, tt.wantText, w.Body)
			}
			if e.store.Writes() != writes || len(e.mailer.Sent()) != before {
				t.Errorf("a refused request wrote or sent something")
			}
		})
	}

	t.Run("source over its limit", func(t *testing.T) {
		e := newEnv(t)
		e.svc.Limits = consent.Limits{SignupsPerSource: 2, SourceWindow: 10 * time.Minute}
		var last *http.Response
		for range 3 {
			last = e.do(t, "POST", "/privacy", form, "email=nobody%40example.com&request=export").Result()
		}
		if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
			t.Errorf("third request from one source: %d (Retry-After %q), want 429 with Retry-After", last.StatusCode, last.Header.Get("Retry-After"))
		}
	})
}

func TestPrivacyLinkPageWritesNothing(t *testing.T) {
	e := newEnv(t)
	exportLink := e.privacyLinkFor(t, consent.PrivacyExport)
	eraseLink := e.privacyLinkFor(t, consent.PrivacyErase)
	writes, sent := e.store.Writes(), len(e.mailer.Sent())
	for _, tt := range []struct{ link, want string }{
		{exportLink, `<button type="submit">Show my data</button>`},
		{eraseLink, `<button type="submit">Delete my data</button>`},
	} {
		for _, method := range []string{"GET", "HEAD"} {
			w := e.do(t, method, tt.link, "", "")
			if w.Code != http.StatusOK {
				t.Errorf("%s link page: status %d, want 200", method, w.Code)
			}
			if method == "GET" && (!strings.Contains(w.Body.String(), tt.want) || !strings.Contains(w.Body.String(), "a•••@e•••.com")) {
				t.Errorf("link page lacks %q or the masked address:\n%s", tt.want, w.Body)
			}
		}
	}
	if e.store.Writes() != writes || len(e.mailer.Sent()) != sent {
		t.Errorf("opening the link pages wrote or sent something")
	}
	if got := eventTypes(e.ledger(t, "ann@example.com")); got != "signup,granted" {
		t.Errorf("ledger after opening the links: %s", got)
	}
}

func TestPrivacyExportPage(t *testing.T) {
	e := newEnv(t)
	link := e.privacyLinkFor(t, consent.PrivacyExport)
	writes := e.store.Writes()

	w := e.do(t, "POST", link, form, "confirm=yes")
	page := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200:\n%s", w.Code, page)
	}
	for _, want := range []string{
		"ann@example.com",
		"You asked for “The UK GDPR Lead-Magnet Checklist”",
		"You ticked the box for marketing email from Example Ltd",
		time.Now().UTC().Format("2 January 2006") + ", ",
		" UTC</strong>",
		`<input type="hidden" name="format" value="json">`,
		"Download as JSON",
		"Email with your download (sent)",
		"Email with a link to see your data (sent)",
		"We keep these records for 30 days.",
		"May we send you marketing emails?",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("data page lacks %q:\n%s", want, page)
		}
	}
	if strings.Index(page, "You asked for") > strings.Index(page, "You ticked the box") {
		t.Errorf("events not oldest first")
	}

	w = e.do(t, "POST", link, form, "confirm=yes&format=json")
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("download: %d %q, want 200 application/json", w.Code, w.Header().Get("Content-Type"))
	}
	cd := w.Header().Get("Content-Disposition")
	if want := `attachment; filename=my-data-` + time.Now().UTC().Format("2006-01-02") + `.json`; cd != want {
		t.Errorf("Content-Disposition: got %q, want %q", cd, want)
	}
	var x consent.Export
	if err := json.Unmarshal(w.Body.Bytes(), &x); err != nil {
		t.Fatalf("download is not an export: %v", err)
	}
	if x.Email != "ann@example.com" || eventTypes(x.Events) != "signup,granted" {
		t.Errorf("download: %s with %s, want ann@example.com with signup,granted", x.Email, eventTypes(x.Events))
	}
	if e.store.Writes() != writes {
		t.Errorf("showing and downloading the data wrote %d times", e.store.Writes()-writes)
	}
}

func TestPrivacyErasePage(t *testing.T) {
	e := newEnv(t)
	link := e.privacyLinkFor(t, consent.PrivacyErase)
	sent := len(e.mailer.Sent())

	w := e.do(t, "POST", link, form, "confirm=yes")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Your data is deleted") {
		t.Fatalf("erase: %d:\n%s", w.Code, w.Body)
	}
	if got := e.ledger(t, "ann@example.com"); len(got) != 0 {
		t.Errorf("ledger after erasure: %s, want empty", eventTypes(got))
	}
	for _, method := range []string{"GET", "POST"} {
		w := e.do(t, method, link, form, "confirm=yes")
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "We hold no data for this link") {
			t.Errorf("%s the link again: %d:\n%s", method, w.Code, w.Body)
		}
	}
	// Asking again sends nothing: there is nothing held.
	e.do(t, "POST", "/privacy", form, "email=ann%40example.com&request=export")
	if got := len(e.mailer.Sent()) - sent; got != 0 {
		t.Errorf("emails after the erasure: %d, want 0", got)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"metric":"privacy_erased"`) {
		t.Errorf("the erasure is not logged for the operator")
	}
	if strings.Contains(logs, "ann@example.com") || strings.Contains(logs, "ann%40example.com") {
		t.Errorf("the log holds the address")
	}
}

func TestPrivacyLinkRefusals(t *testing.T) {
	tests := []struct {
		name       string
		kind       string
		tamper     func(link string) string
		body       string
		headers    []string
		wantStatus int
		wantText   string
	}{
		{name: "no button field", kind: consent.PrivacyErase, body: "", wantStatus: 400, wantText: "This link does not work"},
		{name: "other button value", kind: consent.PrivacyErase, body: "confirm=no", wantStatus: 400, wantText: "This link does not work"},
		{name: "button twice", kind: consent.PrivacyErase, body: "confirm=yes&confirm=yes", wantStatus: 400},
		{name: "button in the URL", kind: consent.PrivacyErase, tamper: func(l string) string { return l + "&confirm=yes" }, body: "confirm=yes", wantStatus: 400},
		{name: "download of an erase link", kind: consent.PrivacyErase, body: "confirm=yes&format=json", wantStatus: 400, wantText: "This link does not work"},
		{name: "unknown format", kind: consent.PrivacyExport, body: "confirm=yes&format=pdf", wantStatus: 400, wantText: "This link does not work"},
		{name: "tampered token", kind: consent.PrivacyErase, tamper: func(l string) string { return l[:len(l)-2] + "AA" }, body: "confirm=yes", wantStatus: 400, wantText: "This link does not work"},
		{name: "unknown key id", kind: consent.PrivacyErase, tamper: func(l string) string {
			return strings.Replace(l, "/privacy/confirm?t=k1.", "/privacy/confirm?t=k2.", 1)
		}, body: "confirm=yes", wantStatus: 400, wantText: "This link does not work"},
		{name: "another site's page", kind: consent.PrivacyErase, body: "confirm=yes", headers: []string{"Origin", "https://elsewhere.example"}, wantStatus: 403, wantText: "Open the link in the email again"},
		{name: "Origin null", kind: consent.PrivacyErase, body: "confirm=yes", headers: []string{"Origin", "null"}, wantStatus: 403},
		{name: "another site's referer", kind: consent.PrivacyExport, body: "confirm=yes", headers: []string{"Referer", "https://elsewhere.example/page"}, wantStatus: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			link := e.privacyLinkFor(t, tt.kind)
			if tt.tamper != nil {
				link = tt.tamper(link)
			}
			writes := e.store.Writes()
			w := e.do(t, "POST", link, form, tt.body, tt.headers...)
			if w.Code != tt.wantStatus || !strings.Contains(w.Body.String(), tt.wantText) {
				t.Errorf("got %d, want %d with %q:\n%s", w.Code, tt.wantStatus, tt.wantText, w.Body)
			}
			if strings.Contains(w.Body.String(), "ann@example.com") {
				t.Errorf("a refused request shows the data")
			}
			if e.store.Writes() != writes {
				t.Errorf("a refused request wrote %d times", e.store.Writes()-writes)
			}
		})
	}
}

func TestPrivacyLinkExpired(t *testing.T) {
	e := newEnv(t)
	exportLink := e.privacyLinkFor(t, consent.PrivacyExport)
	eraseLink := e.privacyLinkFor(t, consent.PrivacyErase)
	e.svc.Now = func() time.Time { return time.Now().Add(consent.PrivacyLinkExpiry + time.Minute) }
	writes := e.store.Writes()
	for _, link := range []string{exportLink, eraseLink} {
		for _, method := range []string{"GET", "POST"} {
			w := e.do(t, method, link, form, "confirm=yes")
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "This link has expired") || !strings.Contains(w.Body.String(), `href="https://signup.example.com/privacy"`) {
				t.Errorf("%s expired link: %d:\n%s", method, w.Code, w.Body)
			}
			if strings.Contains(w.Body.String(), "ann@example.com") {
				t.Errorf("an expired link shows the data")
			}
		}
	}
	if e.store.Writes() != writes {
		t.Errorf("expired links wrote %d times", e.store.Writes()-writes)
	}
	if got := eventTypes(e.ledger(t, "ann@example.com")); got != "signup,granted" {
		t.Errorf("ledger after expired links: %s", got)
	}
}
