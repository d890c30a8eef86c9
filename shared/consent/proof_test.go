package consent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/storetest"
)

// provenHistory gives ann a history a proof must tell: a sign-up with the
// box ticked from a page, the confirmation, a withdrawal by one-click, and
// a name correction.
func provenHistory(t *testing.T, f *fixture) {
	t.Helper()
	ctx := context.Background()
	err := f.svc.Signup(ctx, consent.SignupRequest{Email: "ann@example.com", Magnet: "uk-gdpr-checklist", Name: "Anm", Consent: true,
		Method: consent.MethodForm, PageURL: "https://example.com/checklist", Evidence: ev})
	if err != nil {
		t.Fatal(err)
	}
	f.now = t0.Add(5 * time.Minute)
	if _, err := f.svc.Confirm(ctx, linkToken(t, f.mailer.Sent()[0].Text, "/confirm"), ev); err != nil {
		t.Fatal(err)
	}
	f.now = t0.Add(48 * time.Hour)
	if _, err := f.svc.Withdraw(ctx, unsubscribeToken(t, f.mailer.Sent()[0]), consent.MethodOneClick, consent.Evidence{SourceIP: "198.51.100.4"}); err != nil {
		t.Fatal(err)
	}
	f.now = t0.Add(72 * time.Hour)
	if _, err := f.svc.Rectify(ctx, "ann@example.com", "Ann", consent.Evidence{}); err != nil {
		t.Fatal(err)
	}
}

func TestProof(t *testing.T) {
	f := newFixture(t)
	provenHistory(t, f)
	p, err := f.svc.Proof(context.Background(), "Ann@Example.com")
	if err != nil {
		t.Fatal(err)
	}
	if p.Email != "ann@example.com" || p.Name != "Ann" || p.Erased != nil {
		t.Errorf("person: got %q %q %v", p.Email, p.Name, p.Erased)
	}
	var got []string
	for _, e := range p.Events {
		got = append(got, string(e.Event.Type))
	}
	if strings.Join(got, ",") != "signup,granted,confirmed,withdrawn,rectified" {
		t.Errorf("events: got %v", got)
	}
	for _, e := range p.Events {
		if e.Summary == "" || len(e.Details) == 0 {
			t.Errorf("event %s: no summary or details", e.Event.Type)
		}
	}
	if s := p.Events[0].Summary; !strings.Contains(s, "on a web form at https://example.com/checklist") {
		t.Errorf("sign-up summary: %q", s)
	}
	if s := p.Events[3].Summary; s != "Withdrew their consent to marketing email from Example Ltd by one-click unsubscribe." {
		t.Errorf("withdrawal summary: %q", s)
	}
	// The wording comes from the archive; the privacy notice in force too.
	m, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
	var wording, notice *consent.ShownText
	for i, tx := range p.Texts {
		switch tx.Kind {
		case consent.TextWording:
			wording = &p.Texts[i]
		case consent.TextNotice:
			notice = &p.Texts[i]
		}
	}
	if wording == nil || wording.From != consent.TextFromArchive || wording.Text != m.ConsentWording || wording.Version != p.Events[1].Event.WordingVersion || wording.ArchivedAt.IsZero() {
		t.Errorf("wording: got %+v, want the archived version %s", wording, p.Events[1].Event.WordingVersion)
	}
	if v := p.Events[0].Event.NoticeVersion; v != "" && (notice == nil || notice.From != consent.TextFromArchive || notice.Version != v || !strings.Contains(notice.Text, "Example Ltd")) {
		t.Errorf("notice: got %+v, want the archived notice %s", notice, v)
	}
	if len(p.Texts) != 2 {
		t.Errorf("texts: got %d, want 2 (each version once)", len(p.Texts))
	}
	if len(p.Deliveries) != 2 || p.Deliveries[0].Kind != consent.JobFreebie || p.Deliveries[0].State != consent.JobSent || p.Deliveries[0].MessageID == "" ||
		p.Deliveries[1].Kind != consent.JobReceipt {
		t.Errorf("deliveries: got %+v, want the freebie and the receipt, sent", p.Deliveries)
	}
	if len(p.Decisions) == 0 || p.Decisions[0].Allowed {
		t.Errorf("decisions: got %+v, want not allowed (withdrawn)", p.Decisions)
	}

	var text bytes.Buffer
	if err := p.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"PROOF OF CONSENT: ann@example.com",
		"28 November 2026 at 10:00:00 UTC",
		"Ticked the unticked box to receive marketing email from Example Ltd (monthly)",
		"IP address: 203.0.113.9",
		"Browser (user agent): Mozilla/5.0",
		"Page: https://example.com/checklist",
		"30 November 2026 at 10:00:00 UTC",
		"  | " + m.ConsentWording,
		"the free download (uk-gdpr-checklist): sent on",
		"may not be emailed",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}

	var page bytes.Buffer
	if err := p.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	html := page.String()
	for _, want := range []string{"<title>Proof of consent: ann@example.com</title>", "@media print", "Mozilla/5.0", "203.0.113.9"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	for _, banned := range []string{"<script", "<img", "<link", "src=", "@import", "url(", "<iframe", "href="} {
		if strings.Contains(strings.ToLower(html), banned) {
			t.Errorf("HTML report contains %q: it must be self-contained", banned)
		}
	}
	data, err := json.Marshal(p)
	if err != nil || !json.Valid(data) || !strings.Contains(string(data), `"summary":`) || strings.Contains(string(data), `"Details"`) {
		t.Errorf("JSON: %v %s", err, data)
	}
}

func TestProofFallsBackToTheCopyOnTheEvent(t *testing.T) {
	f := newFixture(t)
	sub := f.svc.Keys.Subject.SubscriberID("old@example.com")
	granted := consent.Event{Subscriber: sub, Seq: 1, ID: "g1", Type: consent.EventGranted, At: t0, Magnet: "uk-gdpr-checklist",
		Email: "old@example.com", Method: consent.MethodCheckbox, WordingVersion: "w00000000000000000000000000000000",
		Wording: "Yes, email me (an old wording).", PrivacyPolicyURL: "https://example.com/privacy", Frequency: "monthly", Controller: "Example Ltd"}
	if err := storetest.Append(context.Background(), f.store, granted); err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Proof(context.Background(), "old@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Texts) != 1 || p.Texts[0].From != consent.TextFromEvent || p.Texts[0].Text != granted.Wording || p.Texts[0].Note == "" {
		t.Errorf("texts: got %+v, want the copy on the event, with a note", p.Texts)
	}
}

func TestProofOfUnknownAndErased(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p, err := f.svc.Proof(ctx, "nobody@example.com")
	if err != nil || len(p.Events) != 0 || p.Erased != nil {
		t.Fatalf("unknown: got %+v, %v", p, err)
	}
	var text bytes.Buffer
	_ = p.WriteText(&text)
	if !strings.Contains(text.String(), "Nothing is held on this address") {
		t.Errorf("unknown person's report:\n%s", text.String())
	}
	var page bytes.Buffer
	if err := p.WriteHTML(&page); err != nil || !strings.Contains(page.String(), "Nothing is held on this address") {
		t.Errorf("unknown person's HTML report (%v):\n%s", err, page.String())
	}
	f.signup(t, "ann@example.com", true)
	if _, err := f.svc.Erase(ctx, "ann@example.com", "erasure request by email, 2 December 2026"); err != nil {
		t.Fatal(err)
	}
	p, err = f.svc.Proof(ctx, "ann@example.com")
	if err != nil || p.Erased == nil || len(p.Events) != 0 || len(p.Deliveries) != 0 || len(p.Decisions) != 0 {
		t.Fatalf("erased: got %+v, %v; want only the tombstone", p, err)
	}
	text.Reset()
	_ = p.WriteText(&text)
	if !strings.Contains(text.String(), "erased on 28 November 2026 at 10:00:00 UTC\n  (erasure request by email, 2 December 2026)") {
		t.Errorf("erased person's report:\n%s", text.String())
	}
	page.Reset()
	if err := p.WriteHTML(&page); err != nil || !strings.Contains(page.String(), "<h2>Erased</h2>") || strings.Contains(page.String(), "What happened") {
		t.Errorf("erased person's HTML report (%v):\n%s", err, page.String())
	}
	x, err := f.svc.Export(ctx, "ann@example.com")
	if err != nil || x.Erased == nil || x.Subscriber != "" || len(x.Events) != 0 || len(x.Decisions) != 0 {
		t.Errorf("export of an erased person: got %+v, %v", x, err)
	}
}

func TestExportHasDeliveries(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", false)
	x, err := f.svc.Export(context.Background(), "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Deliveries) != 1 || x.Deliveries[0].Kind != consent.JobFreebie || x.Deliveries[0].State != consent.JobSent || x.Name != "Ann" {
		t.Errorf("export: deliveries %+v, name %q", x.Deliveries, x.Name)
	}
}
