package consent_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/consent/storetest"
	"github.com/unbundled/unbundled/shared/magnet"
)

// linkToken pulls the t= token of the first link to path in text.
func linkToken(t *testing.T, text, path string) string {
	t.Helper()
	i := strings.Index(text, "https://signup.example.com"+path+"?t=")
	if i < 0 {
		t.Fatalf("no %s link in:\n%s", path, text)
	}
	u, err := url.Parse(strings.Fields(text[i:])[0])
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("t")
}

func TestDoubleOptIn(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	events := f.ledger(t, "ann@example.com")
	st := consent.MarketingStatus(events, consenttest.SamplePurpose)
	if st.State != consent.StatePending || st.Eligible() || !strings.HasPrefix(st.Reason, "awaiting confirmation since 2026-11-28T10:00:00Z") {
		t.Fatalf("after a ticked sign-up: got %+v, want awaiting confirmation and not eligible", st)
	}
	if !events[1].ConfirmationRequired {
		t.Errorf("granted event does not record that confirmation is required")
	}
	freebie := f.mailer.Sent()[0]
	tok := linkToken(t, freebie.Text, "/confirm")
	if !strings.Contains(freebie.Text, "If you'd like our monthly emails, confirm here:") || !strings.Contains(freebie.HTML, "If you&rsquo;d like our monthly emails") {
		t.Errorf("freebie lacks the confirm wording")
	}

	// Reading the link writes nothing.
	writes := f.store.Writes()
	target, err := f.svc.DescribeConfirmation(context.Background(), tok)
	if err != nil || target.Wording.Wording == "" || target.MaskedEmail != "a•••@e•••.com" {
		t.Fatalf("describe: %+v, %v", target, err)
	}
	if f.store.Writes() != writes {
		t.Errorf("DescribeConfirmation wrote to the store")
	}

	f.now = t0.Add(2 * time.Hour)
	for i := range 3 {
		got, err := f.svc.Confirm(context.Background(), tok, ev)
		if err != nil {
			t.Fatalf("confirm #%d: %v", i+1, err)
		}
		if got.Status.State != consent.StateActive {
			t.Errorf("confirm #%d: state %s, want active", i+1, got.Status.State)
		}
	}
	events = f.ledger(t, "ann@example.com")
	if got := types(events); got != "signup,granted,confirmed" {
		t.Fatalf("ledger: got %s, want one confirmed event", got)
	}
	c := events[2]
	if c.Method != consent.MethodConfirmLink || c.SourceIP != ev.SourceIP || c.UserAgent != ev.UserAgent || !c.At.Equal(t0.Add(2*time.Hour)) || c.WordingVersion != events[1].WordingVersion {
		t.Errorf("confirmed evidence: %+v", c)
	}
	st = consent.MarketingStatus(events, consenttest.SamplePurpose)
	if !st.Eligible() || st.Reason != "consented on 2026-11-28T10:00:00Z via checkbox, confirmed on 2026-11-28T12:00:00Z" {
		t.Errorf("status: %+v", st)
	}

	// Exactly one receipt, quoting the archived wording, with a one-click link.
	var receipts []consent.Message
	for _, m := range f.mailer.Sent() {
		if strings.HasPrefix(m.Subject, "Your consent receipt") {
			receipts = append(receipts, m)
		}
	}
	if len(receipts) != 1 {
		t.Fatalf("receipts: got %d, want 1", len(receipts))
	}
	m, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
	r := receipts[0]
	if !strings.Contains(r.Text, `"`+m.ConsentWording+`"`) || !strings.Contains(r.Text, "monthly emails") || !strings.Contains(r.Text, "Confirmed on: 28 November 2026, 12:00 UTC") {
		t.Errorf("receipt text lacks wording, frequency or time:\n%s", r.Text)
	}
	if v, _ := consenttest.Header(r, "List-Unsubscribe-Post"); v == "" || !strings.Contains(r.Text, "/unsubscribe?t=") {
		t.Errorf("receipt lacks the one-click withdrawal link")
	}
}

func TestConfirmAfterWithdrawalDoesNothing(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	freebie := f.mailer.Sent()[0]
	if _, err := f.svc.Withdraw(context.Background(), unsubscribeToken(t, freebie), consent.MethodOneClick, ev); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.Confirm(context.Background(), linkToken(t, freebie.Text, "/confirm"), ev)
	if err != nil || got.Status.State != consent.StateWithdrawn {
		t.Fatalf("confirm after withdrawal: %+v, %v", got.Status, err)
	}
	if types(f.ledger(t, "ann@example.com")) != "signup,granted,withdrawn" {
		t.Errorf("confirm after withdrawal wrote an event")
	}
}

func TestExpiredConfirmLinkAndResend(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	tok := linkToken(t, f.mailer.Sent()[0].Text, "/confirm")
	f.now = t0.Add(magnet.DefaultConfirmExpiry)

	if _, err := f.svc.Confirm(context.Background(), tok, ev); !errors.Is(err, consent.ErrLinkExpired) {
		t.Fatalf("confirm with an expired link: got %v, want ErrLinkExpired", err)
	}
	if _, err := f.svc.DescribeConfirmation(context.Background(), tok); !errors.Is(err, consent.ErrLinkExpired) {
		t.Errorf("describe expired link: got %v, want ErrLinkExpired", err)
	}
	if types(f.ledger(t, "ann@example.com")) != "signup,granted" {
		t.Fatalf("expired confirm wrote an event")
	}
	for range 2 { // the second is within the resend window: nothing more is sent
		if err := f.svc.ResendConfirmation(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	}
	sent := f.mailer.Sent()
	if len(sent) != 2 || !strings.HasPrefix(sent[1].Subject, "Please confirm") {
		t.Fatalf("resend: %d messages, want freebie + one new confirm link", len(sent))
	}
	fresh := linkToken(t, sent[1].Text, "/confirm")
	if _, err := f.svc.Confirm(context.Background(), fresh, ev); err != nil {
		t.Fatalf("confirm with the new link: %v", err)
	}
	if st := consent.MarketingStatus(f.ledger(t, "ann@example.com"), consenttest.SamplePurpose); !st.Eligible() {
		t.Errorf("after confirming the resent link: %+v", st)
	}
	if _, err := f.svc.Confirm(context.Background(), "k1.forged.token", ev); !errors.Is(err, consent.ErrBadToken) {
		t.Errorf("forged link: got %v, want ErrBadToken", err)
	}
}

func TestSingleOptInMagnet(t *testing.T) {
	f := newFixture(t)
	off := false
	f.setMagnet(t, func(m *magnet.Magnet) { m.DoubleOptIn = &off })
	f.signup(t, "ann@example.com", true)
	if st := consent.MarketingStatus(f.ledger(t, "ann@example.com"), consenttest.SamplePurpose); !st.Eligible() {
		t.Errorf("single opt-in: got %+v, want eligible at once", st)
	}
	if strings.Contains(f.mailer.Sent()[0].Text, "/confirm?t=") {
		t.Errorf("single opt-in freebie carries a confirm link")
	}
}

func TestWordingVersions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.svc.ArchiveCurrentWordings(ctx); err != nil {
		t.Fatal(err)
	}
	m, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
	oldVersion := consent.NewWordingVersion(m)

	// A form rendered with the current version records it.
	err := f.svc.Signup(ctx, consent.SignupRequest{Email: "ann@example.com", Magnet: m.ID, Consent: true, Method: consent.MethodForm, WordingVersion: oldVersion.ID})
	if err != nil {
		t.Fatal(err)
	}
	if g := f.ledger(t, "ann@example.com")[1]; g.WordingVersion != oldVersion.ID || g.Wording != m.ConsentWording {
		t.Fatalf("granted: version %q wording %q", g.WordingVersion, g.Wording)
	}

	// The business changes its wording: a new version; the old one still resolves.
	f.setMagnet(t, func(m *magnet.Magnet) { m.ConsentWording = "Yes, send me the weekly digest." })
	if err := f.svc.ArchiveCurrentWordings(ctx); err != nil {
		t.Fatal(err)
	}
	m2, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
	newVersion := consent.NewWordingVersion(m2)
	if newVersion.ID == oldVersion.ID {
		t.Fatal("changed wording kept the same version id")
	}
	if v, err := f.store.Wording(ctx, m.ID, oldVersion.ID); err != nil || v.Wording != m.ConsentWording {
		t.Errorf("old version after the change: %+v, %v", v, err)
	}
	// A page still showing the old wording records the old wording (what the person saw).
	err = f.svc.Signup(ctx, consent.SignupRequest{Email: "bob@example.com", Magnet: m.ID, Consent: true, Method: consent.MethodForm, WordingVersion: oldVersion.ID})
	if err != nil {
		t.Fatal(err)
	}
	if g := f.ledger(t, "bob@example.com")[1]; g.Wording != m.ConsentWording {
		t.Errorf("old-form sign-up recorded %q, want the old wording", g.Wording)
	}
	// No version (hand-written page): the current version.
	f.signup(t, "carol@example.com", true)
	if g := f.ledger(t, "carol@example.com")[1]; g.WordingVersion != newVersion.ID || g.Wording != "Yes, send me the weekly digest." {
		t.Errorf("versionless sign-up recorded %q %q, want the current version", g.WordingVersion, g.Wording)
	}

	// Unknown or tampered ids are refused and nothing is stored or sent.
	writes, mails := f.store.Writes(), len(f.mailer.Sent())
	for _, bad := range []string{"w0000000000000000000000000000000", oldVersion.ID + "x", "<script>"} {
		err := f.svc.Signup(ctx, consent.SignupRequest{Email: "dan@example.com", Magnet: m.ID, Consent: true, Method: consent.MethodForm, WordingVersion: bad})
		var verr *consent.ValidationError
		if !errors.As(err, &verr) || verr.Fields["consent_version"] == "" {
			t.Errorf("version %q: got %v, want a consent_version validation error", bad, err)
		}
	}
	if f.store.Writes() != writes || len(f.mailer.Sent()) != mails {
		t.Errorf("refused versions stored or sent something")
	}
}

// The pending confirmation is a TTL record that lives exactly as long as the
// confirm link; the signup and granted events outlive it.
func TestPendingConfirmationExpires(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	key := "pending-confirmation#" + f.svc.Keys.Subject.SubscriberID("ann@example.com") + "#uk-gdpr-checklist#" + f.ledger(t, "ann@example.com")[1].ID
	ctx := context.Background()
	if fresh, _ := storetest.Claim(ctx, f.store, key, t0.Add(magnet.DefaultConfirmExpiry-time.Second), t0.Add(48*time.Hour)); fresh {
		t.Errorf("no pending confirmation recorded before expiry")
	}
	if fresh, _ := storetest.Claim(ctx, f.store, key, t0.Add(magnet.DefaultConfirmExpiry), t0.Add(48*time.Hour)); !fresh {
		t.Errorf("pending confirmation still live after its expiry")
	}
	if got := types(f.ledger(t, "ann@example.com")); got != "signup,granted" {
		t.Errorf("history after expiry: %s", got)
	}
}
