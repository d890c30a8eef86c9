package consent_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/consent/consenttest/memstore"
	"github.com/unbundled/unbundled/shared/magnet"
)

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

type fixture struct {
	catalogJSON []byte
	svc         *consent.Service
	store       *memstore.Store
	mailer      *consenttest.Mailer
	now         time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: memstore.New(), mailer: &consenttest.Mailer{}, now: t0, catalogJSON: consenttest.SampleCatalog}
	f.svc = consenttest.Service(t, f.store, func() time.Time { return f.now })
	// Deliver queued mail at once, so tests read the outbox's effect directly.
	consenttest.DeliverAtOnce(t, f.svc, f.store, f.mailer)
	return f
}

// setMagnet replaces the catalog with one where the sample magnet is changed
// by edit, as when the business edits its configuration and redeploys.
func (f *fixture) setMagnet(t *testing.T, edit func(*magnet.Magnet)) {
	t.Helper()
	var file struct{ Magnets []magnet.Magnet }
	if err := json.Unmarshal(f.catalogJSON, &file); err != nil {
		t.Fatal(err)
	}
	edit(&file.Magnets[0])
	data, err := json.Marshal(map[string]any{"magnets": file.Magnets})
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := magnet.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Catalog = catalog
}

var ev = consent.Evidence{SourceIP: "203.0.113.9", UserAgent: "Mozilla/5.0", RequestID: "req-1"}

func (f *fixture) signup(t *testing.T, email string, consentGiven bool) {
	t.Helper()
	err := f.svc.Signup(context.Background(), consent.SignupRequest{
		Email: email, Magnet: "uk-gdpr-checklist", Name: "Ann", Consent: consentGiven, Method: consent.MethodForm, Evidence: ev})
	if err != nil {
		t.Fatalf("Signup: %v", err)
	}
}

func (f *fixture) ledger(t *testing.T, email string) []consent.Event {
	t.Helper()
	events, err := f.svc.LedgerFor(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func types(events []consent.Event) string {
	var s []string
	for _, e := range events {
		s = append(s, string(e.Type))
	}
	return strings.Join(s, ",")
}

func unsubscribeToken(t *testing.T, msg consent.Message) string {
	t.Helper()
	v, ok := consenttest.Header(msg, "List-Unsubscribe")
	if !ok {
		t.Fatalf("no List-Unsubscribe header")
	}
	u, err := url.Parse(strings.Trim(v, "<>"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("t")
}

func TestSignupWithConsent(t *testing.T) {
	f := newFixture(t)
	f.signup(t, " Ann@Example.com ", true)

	events := f.ledger(t, "ann@example.com")
	if got, want := types(events), "signup,granted"; got != want {
		t.Fatalf("ledger: got %s, want %s", got, want)
	}
	g := events[1]
	m, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
	checks := map[string][2]string{
		"email":     {g.Email, "ann@example.com"},
		"method":    {g.Method, consent.MethodCheckbox},
		"wording":   {g.Wording, m.ConsentWording},
		"policy":    {g.PrivacyPolicyURL, m.PrivacyPolicyURL},
		"frequency": {g.Frequency, "monthly"},
		"ip":        {g.SourceIP, ev.SourceIP},
		"ua":        {g.UserAgent, ev.UserAgent},
		"request":   {g.RequestID, ev.RequestID},
		"at":        {g.At.String(), t0.String()},
	}
	for name, c := range checks {
		if c[0] != c[1] {
			t.Errorf("granted %s: got %q, want %q", name, c[0], c[1])
		}
	}
	if st := consent.MarketingStatus(events, consenttest.SamplePurpose); !st.Consented() {
		t.Errorf("status: got %+v, want granted", st)
	}

	sent := f.mailer.Sent()
	if len(sent) != 1 {
		t.Fatalf("sent %d messages, want 1", len(sent))
	}
	msg := sent[0]
	if msg.To != "ann@example.com" || msg.FromEmail != m.SenderEmail || msg.ReplyTo != m.ReplyTo {
		t.Errorf("addressing: got to=%q from=%q reply-to=%q", msg.To, msg.FromEmail, msg.ReplyTo)
	}
	if v, _ := consenttest.Header(msg, "List-Unsubscribe-Post"); v != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post: got %q", v)
	}
	lu, _ := consenttest.Header(msg, "List-Unsubscribe")
	if !strings.HasPrefix(lu, "<https://signup.example.com/unsubscribe?t=") || strings.Contains(lu, "ann") {
		t.Errorf("List-Unsubscribe: got %q, want an https link without the address", lu)
	}
	for part, body := range map[string]string{"text": msg.Text, "html": msg.HTML} {
		if !strings.Contains(body, "https://signup.example.com/_local/files/uk-gdpr-checklist.txt") {
			t.Errorf("%s part lacks the download link", part)
		}
		if !strings.Contains(body, "/unsubscribe?t=") {
			t.Errorf("%s part lacks a visible unsubscribe link", part)
		}
		if !strings.Contains(body, "Example Ltd, 1 High Street") {
			t.Errorf("%s part lacks the controller line", part)
		}
	}
}

func TestSignupWithoutConsentStillDeliversButRecordsNoConsent(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "bob@example.com", false)
	if got, want := types(f.ledger(t, "bob@example.com")), "signup"; got != want {
		t.Errorf("ledger: got %s, want %s", got, want)
	}
	sent := f.mailer.Sent()
	if len(sent) != 1 {
		t.Fatalf("sent %d messages, want 1 (the freebie goes out either way)", len(sent))
	}
	if len(sent[0].Headers) != 0 {
		t.Errorf("headers: got %v, want none without consent", sent[0].Headers)
	}
	if strings.Contains(sent[0].Text, "unsubscribe") || strings.Contains(sent[0].HTML, "Unsubscribe") {
		t.Errorf("message without consent mentions marketing unsubscribe")
	}
}

func TestSignupEscapesNameInHTML(t *testing.T) {
	f := newFixture(t)
	// Markup in a name is refused outright...
	err := f.svc.Signup(context.Background(), consent.SignupRequest{Email: "c@example.com", Magnet: "uk-gdpr-checklist",
		Name: `<a href="https://spam.example">WIN</a>`, Method: consent.MethodJSON})
	var verr *consent.ValidationError
	if !errors.As(err, &verr) || verr.Fields["name"] == "" {
		t.Fatalf("markup in the name: got %v, want a validation error on name", err)
	}
	// ...and what is allowed is still escaped in the HTML part.
	if err := f.svc.Signup(context.Background(), consent.SignupRequest{Email: "c@example.com", Magnet: "uk-gdpr-checklist",
		Name: "Seán O'Brien", Method: consent.MethodJSON}); err != nil {
		t.Fatal(err)
	}
	html := f.mailer.Sent()[0].HTML
	if !strings.Contains(html, "Seán O&#39;Brien") {
		t.Errorf("name not escaped in the HTML part:\n%s", html)
	}
}

func TestSignupValidation(t *testing.T) {
	tests := []struct {
		name       string
		req        consent.SignupRequest
		wantFields []string
	}{
		{"everything missing", consent.SignupRequest{}, []string{"email", "magnet"}},
		{"bad email", consent.SignupRequest{Email: "nope", Magnet: "uk-gdpr-checklist"}, []string{"email"}},
		{"unknown magnet", consent.SignupRequest{Email: "a@example.com", Magnet: "missing"}, []string{"magnet"}},
		{"name with newline", consent.SignupRequest{Email: "a@example.com", Magnet: "uk-gdpr-checklist", Name: "A\r\nBcc: x"}, []string{"name"}},
		{"long name", consent.SignupRequest{Email: "a@example.com", Magnet: "uk-gdpr-checklist", Name: strings.Repeat("n", 101)}, []string{"name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			err := f.svc.Signup(context.Background(), tt.req)
			var verr *consent.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("got %v, want *ValidationError", err)
			}
			if len(verr.Fields) != len(tt.wantFields) {
				t.Errorf("fields: got %v, want %v", verr.Fields, tt.wantFields)
			}
			for _, field := range tt.wantFields {
				if verr.Fields[field] == "" {
					t.Errorf("no message for %s in %v", field, verr.Fields)
				}
			}
			if f.store.Writes() != 0 || len(f.mailer.Sent()) != 0 {
				t.Errorf("invalid input stored %d writes and sent %d mails, want none", f.store.Writes(), len(f.mailer.Sent()))
			}
		})
	}
}

func TestWithdrawIsIdempotentAndConcurrentSafe(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	tok := unsubscribeToken(t, f.mailer.Sent()[0])
	f.now = t0.Add(time.Hour)

	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.svc.Withdraw(context.Background(), tok, consent.MethodOneClick, ev)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Withdraw: %v", err)
		}
	}
	events := f.ledger(t, "ann@example.com")
	if got, want := types(events), "signup,granted,withdrawn"; got != want {
		t.Fatalf("ledger: got %s, want %s", got, want)
	}
	w := events[2]
	if w.Method != consent.MethodOneClick || w.Email != "ann@example.com" || !w.At.Equal(t0.Add(time.Hour)) {
		t.Errorf("withdrawn event: got %+v", w)
	}
	st := consent.MarketingStatus(events, consenttest.SamplePurpose)
	if st.Consented() || !strings.Contains(st.Reason, "withdrawn on 2026-11-28T11:00:00Z via one-click") {
		t.Errorf("status: got %+v", st)
	}
}

func TestResubscribeNeedsFreshConsent(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	tok := unsubscribeToken(t, f.mailer.Sent()[0])
	if _, err := f.svc.Withdraw(context.Background(), tok, consent.MethodUnsubscribePage, ev); err != nil {
		t.Fatal(err)
	}
	f.signup(t, "ann@example.com", false) // asks for the freebie again, box unticked
	if st := consent.MarketingStatus(f.ledger(t, "ann@example.com"), consenttest.SamplePurpose); st.Consented() {
		t.Errorf("unticked re-sign-up revived consent: %+v", st)
	}
	if got := len(f.mailer.Sent()); got != 2 {
		t.Errorf("freebie after withdrawal: sent %d messages in all, want 2", got)
	}
	f.signup(t, "ann@example.com", true)
	if st := consent.MarketingStatus(f.ledger(t, "ann@example.com"), consenttest.SamplePurpose); !st.Consented() {
		t.Errorf("ticked re-sign-up: got %+v, want granted", st)
	}
}

func TestWithdrawBadToken(t *testing.T) {
	f := newFixture(t)
	if _, err := f.svc.Withdraw(context.Background(), "k1.bad.token", consent.MethodOneClick, ev); !errors.Is(err, consent.ErrBadToken) {
		t.Errorf("got %v, want ErrBadToken", err)
	}
	if f.store.Writes() != 0 {
		t.Errorf("bad token wrote %d times", f.store.Writes())
	}
}

func TestSignupDoesNotDependOnMail(t *testing.T) {
	f := newFixture(t)
	f.mailer.Err = errors.New("provider down")
	f.signup(t, "a@example.com", false)
	jobs, err := f.store.DueJobs(context.Background(), f.now, 10)
	if err != nil || len(jobs) != 1 || jobs[0].Kind != consent.JobFreebie || jobs[0].State != consent.JobPending {
		t.Fatalf("after a failed send: jobs %+v, %v; want the freebie job still pending", jobs, err)
	}
	if jobs[0].Attempts != 1 || !strings.Contains(jobs[0].Reason, "provider down") {
		t.Errorf("job: attempts %d reason %q", jobs[0].Attempts, jobs[0].Reason)
	}
}

func TestWithdrawalBeforeSendIsHonoured(t *testing.T) {
	f := newFixture(t)
	kick := f.svc.Kick
	f.svc.Kick = nil // the freebie waits in the outbox...
	f.signup(t, "ann@example.com", true)
	m, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
	subscriber := f.svc.Keys.Subject.SubscriberID("ann@example.com")
	tok, _ := url.QueryUnescape(strings.TrimPrefix(f.svc.UnsubscribeURL(context.Background(), subscriber, m.ID), "https://signup.example.com/unsubscribe?t="))
	if _, err := f.svc.Withdraw(context.Background(), tok, consent.MethodOneClick, ev); err != nil { // ...while they withdraw
		t.Fatal(err)
	}
	kick()
	if got := types(f.ledger(t, "ann@example.com")); got != "signup,granted,withdrawn" {
		t.Fatalf("ledger: %s", got)
	}
	msg := f.mailer.Sent()[0]
	if len(msg.Headers) != 0 || strings.Contains(msg.Text, "/unsubscribe") || strings.Contains(msg.Text, "/confirm") {
		t.Errorf("freebie sent after withdrawal still carries marketing links: %v", msg.Headers)
	}
}

func TestListHeaders(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	msg := f.mailer.Sent()[0]
	want := map[string]string{"List-Id": "<uk-gdpr-checklist.example.com>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
	for name, value := range want {
		if got, _ := consenttest.Header(msg, name); got != value {
			t.Errorf("%s: got %q, want %q", name, got, value)
		}
	}
	count := 0
	for _, h := range msg.Headers {
		if h.Name == "List-Unsubscribe" {
			count++
			if strings.Count(h.Value, "<") != 1 {
				t.Errorf("List-Unsubscribe %q: want exactly one URI", h.Value)
			}
		}
	}
	if count != 1 {
		t.Errorf("List-Unsubscribe headers: got %d, want 1", count)
	}
}

func TestRequestWithdrawalLinks(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	f.signup(t, "bob@example.com", false)
	sentBefore := len(f.mailer.Sent())

	for _, addr := range []string{"ann@example.com", "bob@example.com", "nobody@example.com"} {
		if err := f.svc.RequestWithdrawalLinks(context.Background(), addr, consent.Evidence{}); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
	}
	sent := f.mailer.Sent()[sentBefore:]
	if len(sent) != 1 || sent[0].To != "ann@example.com" {
		t.Fatalf("withdrawal links sent: %d, want 1 to the subscribed address", len(sent))
	}
	if !strings.Contains(sent[0].Text, "https://signup.example.com/unsubscribe?t=") || len(sent[0].Headers) != 0 {
		t.Errorf("withdrawal link email: want the unsubscribe page link and no list headers")
	}
	// Rate limit: a second request within the window sends nothing.
	if err := f.svc.RequestWithdrawalLinks(context.Background(), "ann@example.com", consent.Evidence{}); err != nil {
		t.Fatal(err)
	}
	if got := len(f.mailer.Sent()) - sentBefore; got != 1 {
		t.Errorf("after a repeated request: %d links sent, want 1", got)
	}
	f.now = f.now.Add(consent.WithdrawalLinkWindow)
	if err := f.svc.RequestWithdrawalLinks(context.Background(), "ann@example.com", consent.Evidence{}); err != nil {
		t.Fatal(err)
	}
	if got := len(f.mailer.Sent()) - sentBefore; got != 2 {
		t.Errorf("after the window: %d links sent, want 2", got)
	}
	var verr *consent.ValidationError
	if err := f.svc.RequestWithdrawalLinks(context.Background(), "bad", consent.Evidence{}); !errors.As(err, &verr) {
		t.Errorf("invalid address: got %v, want *ValidationError", err)
	}
}
