package consent_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/token"
)

// privacyLink asks for a data-request link of kind for email and returns
// the token of the link emailed, failing t unless exactly one was sent.
func (f *fixture) privacyLink(t *testing.T, email, kind string) string {
	t.Helper()
	before := len(f.mailer.Sent())
	if err := f.svc.RequestPrivacyLink(context.Background(), email, kind, ev); err != nil {
		t.Fatalf("RequestPrivacyLink(%s, %s): %v", email, kind, err)
	}
	sent := f.mailer.Sent()[before:]
	if len(sent) != 1 || sent[0].To != email {
		t.Fatalf("RequestPrivacyLink(%s, %s): %d emails sent, want 1 to the address", email, kind, len(sent))
	}
	return linkToken(t, sent[0].Text, "/privacy/confirm")
}

func TestRequestPrivacyLinkAnswersAlikeAndMailsOnlyKnownAddresses(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	sentBefore := len(f.mailer.Sent())

	for _, addr := range []string{"ann@example.com", "nobody@example.com"} {
		for _, kind := range []string{consent.PrivacyExport, consent.PrivacyErase} {
			if err := f.svc.RequestPrivacyLink(context.Background(), addr, kind, ev); err != nil {
				t.Errorf("%s %s: got %v, want nil (the same answer for everyone)", addr, kind, err)
			}
		}
	}
	sent := f.mailer.Sent()[sentBefore:]
	if len(sent) != 2 {
		t.Fatalf("links sent: got %d, want 2 (export and erase, both to the known address)", len(sent))
	}
	for i, want := range []string{"Your link to see the data Example Ltd holds on you", "Your link to delete the data Example Ltd holds on you"} {
		msg := sent[i]
		if msg.To != "ann@example.com" || msg.Subject != want {
			t.Errorf("email %d: to %q, subject %q; want ann@example.com, %q", i, msg.To, msg.Subject, want)
		}
		for _, part := range []string{msg.Text, msg.HTML} {
			for _, s := range []string{"https://signup.example.com/privacy/confirm?t=", "24 hours", "29 November 2026, 10:00 UTC", "If you did not ask, ignore this email"} {
				if !strings.Contains(part, s) {
					t.Errorf("email %d lacks %q:\n%s", i, s, part)
				}
			}
		}
		if len(msg.Headers) != 0 {
			t.Errorf("email %d: list headers %v on a service message", i, msg.Headers)
		}
		if strings.Contains(linkToken(t, msg.Text, "/privacy/confirm"), "ann") {
			t.Errorf("email %d: the link's token holds the address", i)
		}
	}
	if !strings.Contains(sent[1].Text, "removes our record of your consent") {
		t.Errorf("erase link email does not say what deleting does:\n%s", sent[1].Text)
	}

	// The unknown address leaves the same rate-limit record, so a second
	// request for it is answered (and timed) like the known one's.
	unknown := f.svc.Keys.Subject.SubscriberID("nobody@example.com")
	if _, err := f.store.GetClaim(context.Background(), "privacy-link#export#"+unknown, f.now); err != nil {
		t.Errorf("unknown address: no rate-limit record: %v", err)
	}
	if got := f.ledger(t, "nobody@example.com"); len(got) != 0 {
		t.Errorf("unknown address: ledger %s, want none", types(got))
	}

	var verr *consent.ValidationError
	for _, tt := range []struct{ addr, kind, field string }{
		{"bad", consent.PrivacyExport, "email"},
		{"ann@example.com", "", "request"},
		{"ann@example.com", "delete", "request"},
		{"ann@example.com", "Export", "request"},
	} {
		err := f.svc.RequestPrivacyLink(context.Background(), tt.addr, tt.kind, ev)
		if !errors.As(err, &verr) || verr.Fields[tt.field] == "" {
			t.Errorf("RequestPrivacyLink(%q, %q): got %v, want a *ValidationError naming %s", tt.addr, tt.kind, err, tt.field)
		}
	}
}

func TestRequestPrivacyLinkLimits(t *testing.T) {
	f := newFixture(t)
	f.svc.Limits = consent.Limits{EmailsPerAddress: 3, EmailWindow: 24 * time.Hour, SignupsPerSource: 100, SourceWindow: 10 * time.Minute}
	f.signup(t, "ann@example.com", false) // email 1 of 3: the freebie
	sentBefore := len(f.mailer.Sent())
	request := func(kind string) {
		t.Helper()
		if err := f.svc.RequestPrivacyLink(context.Background(), "ann@example.com", kind, consent.Evidence{}); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
	}
	sent := func() int { return len(f.mailer.Sent()) - sentBefore }

	for range 5 {
		request(consent.PrivacyExport)
	}
	if got := sent(); got != 1 {
		t.Errorf("5 export requests within %s: %d links sent, want 1", consent.PrivacyLinkWindow, got)
	}
	request(consent.PrivacyErase)
	request(consent.PrivacyErase)
	if got := sent(); got != 2 {
		t.Errorf("then 2 erase requests: %d links sent in all, want 2 (one per kind)", got)
	}
	// Past the window the claim is free again, but the address has had its
	// 3 emails today: the answer stays the same and nothing is sent.
	f.now = f.now.Add(consent.PrivacyLinkWindow)
	request(consent.PrivacyExport)
	if got := sent(); got != 2 {
		t.Errorf("past the email cap: %d links sent in all, want 2", got)
	}
	f.now = f.now.Add(24 * time.Hour)
	request(consent.PrivacyExport)
	if got := sent(); got != 3 {
		t.Errorf("a day later: %d links sent in all, want 3", got)
	}

	// Requests count against their source like sign-ups.
	f.svc.Limits.SignupsPerSource = 2
	src := consent.Evidence{SourceIP: "198.51.100.7"}
	for i := range 3 {
		err := f.svc.RequestPrivacyLink(context.Background(), "someone@example.com", consent.PrivacyExport, src)
		var limited *consent.RateLimitError
		if got := errors.As(err, &limited); got != (i == 2) {
			t.Errorf("request %d from one source: got %v, want a *RateLimitError only past 2", i+1, err)
		}
	}
}

func TestRequestPrivacyLinkSendsNothingToASuppressedAddress(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", false)
	if err := f.svc.RecordFeedback(context.Background(), consent.Feedback{ID: "n1", Kind: consent.FeedbackPermanentBounce, Recipients: []string{"ann@example.com"}, At: f.now}); err != nil {
		t.Fatal(err)
	}
	before := len(f.mailer.Sent())
	if err := f.svc.RequestPrivacyLink(context.Background(), "ann@example.com", consent.PrivacyExport, ev); err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	if got := len(f.mailer.Sent()) - before; got != 0 {
		t.Errorf("links sent to a bounced address: %d, want 0", got)
	}
}

func TestPrivacyExportByLink(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	tok := f.privacyLink(t, "ann@example.com", consent.PrivacyExport)
	writes := f.store.Writes()

	got, err := f.svc.DescribePrivacyLink(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	want := consent.PrivacyLink{Kind: consent.PrivacyExport, Held: true, MaskedEmail: "a•••@e•••.com", Expires: t0.Add(consent.PrivacyLinkExpiry)}
	if !got.Expires.Equal(want.Expires) || got.Kind != want.Kind || got.Held != want.Held || got.MaskedEmail != want.MaskedEmail {
		t.Errorf("DescribePrivacyLink: got %+v, want %+v", got, want)
	}
	x, err := f.svc.ExportByLink(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if x.Email != "ann@example.com" || types(x.Events) != "signup,granted" || len(x.Decisions) == 0 {
		t.Errorf("export: email %q, events %s, %d decisions; want ann@example.com, signup,granted, some", x.Email, types(x.Events), len(x.Decisions))
	}
	// An export link erases nothing.
	if _, err := f.svc.EraseByLink(context.Background(), tok, ev); !errors.Is(err, consent.ErrBadToken) {
		t.Errorf("EraseByLink with an export link: got %v, want ErrBadToken", err)
	}
	if got := f.store.Writes(); got != writes {
		t.Errorf("describing and exporting wrote %d times, want 0", got-writes)
	}
	if got := types(f.ledger(t, "ann@example.com")); got != "signup,granted" {
		t.Errorf("ledger after export: %s", got)
	}
}

func TestPrivacyEraseByLink(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	exportTok := f.privacyLink(t, "ann@example.com", consent.PrivacyExport)
	eraseTok := f.privacyLink(t, "ann@example.com", consent.PrivacyErase)
	sub := f.svc.Keys.Subject.SubscriberID("ann@example.com")

	writes := f.store.Writes()
	if d, err := f.svc.DescribePrivacyLink(context.Background(), eraseTok); err != nil || d.Kind != consent.PrivacyErase || !d.Held {
		t.Fatalf("DescribePrivacyLink: %+v, %v; want an erase link with data held", d, err)
	}
	if _, err := f.svc.ExportByLink(context.Background(), eraseTok); !errors.Is(err, consent.ErrBadToken) {
		t.Errorf("ExportByLink with an erase link: got %v, want ErrBadToken", err)
	}
	if got := f.store.Writes(); got != writes {
		t.Errorf("describing wrote %d times, want 0", got-writes)
	}

	e, err := f.svc.EraseByLink(context.Background(), eraseTok, ev)
	if err != nil {
		t.Fatal(err)
	}
	if e.Already || e.Erased.Events != 2 || e.Erased.Jobs == 0 {
		t.Errorf("erasure: %+v, want 2 events and the jobs deleted", e)
	}
	if want := "self-service request 2026-11-28 by emailed link (request req-1)"; e.Tombstone.Reason != want {
		t.Errorf("tombstone reason: got %q, want %q", e.Tombstone.Reason, want)
	}
	if got := f.ledger(t, "ann@example.com"); len(got) != 0 {
		t.Errorf("ledger after erasure: %s, want empty", types(got))
	}
	if _, err := f.store.GetClaim(context.Background(), "privacy-link#erase#"+sub, f.now); !errors.Is(err, consent.ErrNotFound) {
		t.Errorf("the link request's claim survived the erasure: %v", err)
	}
	jobs, err := f.store.DueJobs(context.Background(), f.now.Add(time.Hour), 100)
	if err != nil || len(jobs) != 0 {
		t.Errorf("due jobs after erasure: %d (%v), want 0", len(jobs), err)
	}
	d, err := f.svc.MayEmail(context.Background(), "ann@example.com", "")
	if err != nil || d.Allowed || !strings.Contains(d.Reason, "erased") {
		t.Errorf("may-email after erasure: %+v, %v; want not allowed, erased", d, err)
	}

	// Both links now find nothing held; nothing is written.
	writes = f.store.Writes()
	if d, err := f.svc.DescribePrivacyLink(context.Background(), eraseTok); err != nil || d.Held || d.MaskedEmail != "" {
		t.Errorf("DescribePrivacyLink after erasure: %+v, %v; want nothing held", d, err)
	}
	if _, err := f.svc.EraseByLink(context.Background(), eraseTok, ev); !errors.Is(err, consent.ErrNothingHeld) {
		t.Errorf("EraseByLink again: got %v, want ErrNothingHeld", err)
	}
	if _, err := f.svc.ExportByLink(context.Background(), exportTok); !errors.Is(err, consent.ErrNothingHeld) {
		t.Errorf("ExportByLink after erasure: got %v, want ErrNothingHeld", err)
	}
	if got := f.store.Writes(); got != writes {
		t.Errorf("links after erasure wrote %d times, want 0", got-writes)
	}
	if err := f.svc.RequestPrivacyLink(context.Background(), "ann@example.com", consent.PrivacyExport, ev); err != nil {
		t.Fatal(err)
	}

	// A fresh sign-up starts a new history, which the old links never reach.
	f.signup(t, "ann@example.com", false)
	if _, err := f.svc.EraseByLink(context.Background(), eraseTok, ev); !errors.Is(err, consent.ErrNothingHeld) {
		t.Errorf("old erase link after a fresh sign-up: got %v, want ErrNothingHeld", err)
	}
	if _, err := f.svc.ExportByLink(context.Background(), exportTok); !errors.Is(err, consent.ErrNothingHeld) {
		t.Errorf("old export link after a fresh sign-up: got %v, want ErrNothingHeld", err)
	}
	if got := types(f.ledger(t, "ann@example.com")); got != "signup" {
		t.Errorf("ledger after a fresh sign-up: %s, want signup", got)
	}
	fresh := f.privacyLink(t, "ann@example.com", consent.PrivacyErase)
	if _, err := f.svc.EraseByLink(context.Background(), fresh, ev); err != nil {
		t.Errorf("a new erase link after the fresh sign-up: %v", err)
	}
}

func TestPrivacyLinkExpires(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	exportTok := f.privacyLink(t, "ann@example.com", consent.PrivacyExport)
	eraseTok := f.privacyLink(t, "ann@example.com", consent.PrivacyErase)

	f.now = f.now.Add(consent.PrivacyLinkExpiry - time.Second)
	if _, err := f.svc.DescribePrivacyLink(context.Background(), eraseTok); err != nil {
		t.Fatalf("a second before expiry: %v", err)
	}
	f.now = f.now.Add(time.Second)
	writes := f.store.Writes()
	d, err := f.svc.DescribePrivacyLink(context.Background(), eraseTok)
	if !errors.Is(err, consent.ErrLinkExpired) || d.Kind != consent.PrivacyErase {
		t.Errorf("DescribePrivacyLink at expiry: %+v, %v; want ErrLinkExpired with the kind", d, err)
	}
	if _, err := f.svc.ExportByLink(context.Background(), exportTok); !errors.Is(err, consent.ErrLinkExpired) {
		t.Errorf("ExportByLink expired: got %v, want ErrLinkExpired", err)
	}
	if _, err := f.svc.EraseByLink(context.Background(), eraseTok, ev); !errors.Is(err, consent.ErrLinkExpired) {
		t.Errorf("EraseByLink expired: got %v, want ErrLinkExpired", err)
	}
	if got := f.store.Writes(); got != writes {
		t.Errorf("expired links wrote %d times, want 0", got-writes)
	}
	if got := types(f.ledger(t, "ann@example.com")); got != "signup,granted" {
		t.Errorf("ledger after expired links: %s", got)
	}
}

func TestPrivacyLinkBadTokens(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	tok := f.privacyLink(t, "ann@example.com", consent.PrivacyErase)
	sub := f.svc.Keys.Subject.SubscriberID("ann@example.com")
	sign := func(c token.Claims) string { return f.svc.Keys.Signing.Sign(c) }
	exp := f.now.Add(time.Hour)
	bad := map[string]string{
		"empty":              "",
		"last character":     tok[:len(tok)-1] + map[bool]string{true: "B", false: "A"}[tok[len(tok)-1] == 'A'],
		"truncated":          tok[:len(tok)-4],
		"unsubscribe token":  sign(token.Claims{Purpose: "unsubscribe", Subject: sub, Scope: "uk-gdpr-checklist"}),
		"unknown kind":       sign(token.Claims{Purpose: consent.PurposePrivacy, Subject: sub, Scope: "delete/abc", Expires: exp}),
		"no ledger binding":  sign(token.Claims{Purpose: consent.PurposePrivacy, Subject: sub, Scope: "erase", Expires: exp}),
		"no subject":         sign(token.Claims{Purpose: consent.PurposePrivacy, Scope: "erase/abc", Expires: exp}),
		"another's ledger":   sign(token.Claims{Purpose: consent.PurposePrivacy, Subject: sub, Scope: "erase/0000000000000000", Expires: exp}),
		"another subscriber": sign(token.Claims{Purpose: consent.PurposePrivacy, Subject: f.svc.Keys.Subject.SubscriberID("bob@example.com"), Scope: "erase/0000000000000000", Expires: exp}),
	}
	writes := f.store.Writes()
	for name, tok := range bad {
		_, derr := f.svc.DescribePrivacyLink(context.Background(), tok)
		_, eerr := f.svc.EraseByLink(context.Background(), tok, ev)
		_, xerr := f.svc.ExportByLink(context.Background(), tok)
		switch name {
		case "another's ledger", "another subscriber":
			// Genuine links for data not held.
			if derr != nil || !errors.Is(eerr, consent.ErrNothingHeld) {
				t.Errorf("%s: describe %v, erase %v; want nil, ErrNothingHeld", name, derr, eerr)
			}
		default:
			for _, err := range []error{derr, eerr, xerr} {
				if !errors.Is(err, consent.ErrBadToken) {
					t.Errorf("%s: got %v, want ErrBadToken", name, err)
				}
			}
		}
	}
	if got := f.store.Writes(); got != writes {
		t.Errorf("bad links wrote %d times, want 0", got-writes)
	}
	if got := types(f.ledger(t, "ann@example.com")); got != "signup,granted" {
		t.Errorf("ledger after bad links: %s", got)
	}
}

// TestPrivacyLinkEmailTracksNothing: the data-request emails pass the same
// checks as every other email (see TestEmailsTrackNothing).
func TestPrivacyLinkEmailTracksNothing(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	f.privacyLink(t, "ann@example.com", consent.PrivacyExport)
	f.privacyLink(t, "ann@example.com", consent.PrivacyErase)
	m, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
	for _, msg := range f.mailer.Sent()[1:] {
		for _, p := range messageTrackingProblems(msg, emailLinkAllowed(f.svc.BaseURL, m)) {
			t.Errorf("%s: %s", msg.Subject, p)
		}
	}
}
