package storetest

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/magnet"
)

// testDecisions runs the "may I email X?" rules through the service on a
// real store: each scenario builds a person's ledger by the product's own
// use cases, then asks the one decision function.
func testDecisions(t *testing.T, s consent.Store) {
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	svc := consenttest.Service(t, s, func() time.Time { return now })
	mailer := &consenttest.Mailer{}
	consenttest.DeliverAtOnce(t, svc, s, mailer)
	svc.Catalog = twoMagnetCatalog(t)
	ctx := context.Background()
	signupAs := func(t *testing.T, email, magnetID string, ticked bool, typ string, org consent.Organisation) {
		t.Helper()
		err := svc.Signup(ctx, consent.SignupRequest{Email: email, Magnet: magnetID, Consent: ticked, Method: consent.MethodForm,
			SubscriberType: typ, Organisation: org, Evidence: consent.Evidence{SourceIP: "203.0.113.9"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	signup := func(t *testing.T, email, magnetID string, ticked bool) {
		t.Helper()
		signupAs(t, email, magnetID, ticked, "", consent.Organisation{})
	}
	lastLink := func(t *testing.T, email, path string) string {
		t.Helper()
		sent := mailer.Sent()
		for i := len(sent) - 1; i >= 0; i-- {
			if sent[i].To != email {
				continue
			}
			if j := strings.Index(sent[i].Text, path+"?t="); j >= 0 {
				u, err := url.Parse("https://x" + strings.Fields(sent[i].Text[j:])[0])
				if err != nil {
					t.Fatal(err)
				}
				return u.Query().Get("t")
			}
		}
		t.Fatalf("no %s link emailed to %s", path, email)
		return ""
	}
	ev := consent.Evidence{SourceIP: "198.51.100.1"}
	tests := []struct {
		name        string
		email       string
		steps       func(t *testing.T, email string)
		wantAllowed bool
		wantBasis   consent.Basis
		wantReason  string
		purpose     string // "" for the controller-wide purpose
	}{
		{"sole trader, confirmed: an individual for PECR", "g@example.com", func(t *testing.T, e string) {
			signupAs(t, e, "seo-guide", true, consent.SubscriberSoleTrader, consent.Organisation{})
			if _, err := svc.Confirm(ctx, lastLink(t, e, "/confirm"), ev); err != nil {
				t.Fatal(err)
			}
		}, true, consent.BasisConsent, "consent given 2026-11-02 on magnet 'seo-guide', confirmed 2026-11-02", ""},
		{"company visitor who left the box unticked", "h@acme.example", func(t *testing.T, e string) {
			signupAs(t, e, "seo-guide", false, consent.SubscriberCompany, consent.Organisation{Name: "Acme Widgets Ltd", Role: "Marketing manager", Number: "01234567"})
		}, false, consent.BasisNone, "no consent recorded for " + consenttest.SamplePurpose, ""},
		{"narrower purpose confirmed: yes for it", "i@example.com", func(t *testing.T, e string) {
			signup(t, e, "seo-tips", true)
			if _, err := svc.Confirm(ctx, lastLink(t, e, "/confirm"), ev); err != nil {
				t.Fatal(err)
			}
		}, true, consent.BasisConsent, "consent given 2026-11-02 on magnet 'seo-tips', confirmed 2026-11-02", consenttest.SamplePurpose + "/seo-tips"},
		{"narrower purpose confirmed: no for all the controller's marketing", "j@example.com", func(t *testing.T, e string) {
			signup(t, e, "seo-tips", true)
			if _, err := svc.Confirm(ctx, lastLink(t, e, "/confirm"), ev); err != nil {
				t.Fatal(err)
			}
		}, false, consent.BasisNone, "no consent recorded for " + consenttest.SamplePurpose, ""},
		{"individual without consent", "a@example.com", func(t *testing.T, e string) { signup(t, e, "uk-gdpr-checklist", false) },
			false, consent.BasisNone, "no consent recorded for " + consenttest.SamplePurpose, ""},
		{"consent awaiting confirmation", "b@example.com", func(t *testing.T, e string) { signup(t, e, "uk-gdpr-checklist", true) },
			false, consent.BasisNone, "consent given 2026-11-02 on magnet 'uk-gdpr-checklist' awaits confirmation", ""},
		{"confirmed", "c@example.com", func(t *testing.T, e string) {
			signup(t, e, "uk-gdpr-checklist", true)
			if _, err := svc.Confirm(ctx, lastLink(t, e, "/confirm"), ev); err != nil {
				t.Fatal(err)
			}
		}, true, consent.BasisConsent, "consent given 2026-11-02 on magnet 'uk-gdpr-checklist', confirmed 2026-11-02", ""},
		{"unsubscribed from another magnet of the same controller", "d@example.com", func(t *testing.T, e string) {
			signup(t, e, "uk-gdpr-checklist", true)
			if _, err := svc.Confirm(ctx, lastLink(t, e, "/confirm"), ev); err != nil {
				t.Fatal(err)
			}
			signup(t, e, "seo-guide", false)
			if _, err := svc.Withdraw(ctx, lastLink(t, e, "/unsubscribe"), consent.MethodOneClick, ev); err != nil {
				t.Fatal(err)
			}
		}, false, consent.BasisNone, "withdrawn 2026-11-02 by one-click unsubscribe", ""},
		{"objected, then signed up and confirmed again", "f@example.com", func(t *testing.T, e string) {
			signup(t, e, "uk-gdpr-checklist", true)
			if _, err := svc.Confirm(ctx, lastLink(t, e, "/confirm"), ev); err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second records nothing more
				if _, err := svc.RecordObjection(ctx, e, consent.MethodOperator, consent.Evidence{}); err != nil {
					t.Fatal(err)
				}
			}
			now = now.Add(time.Hour) // past the dedupe window's start: a new decision
			signup(t, e, "seo-guide", true)
		}, false, consent.BasisObjected, "objected 2026-11-02 (recorded by the operator) — do not contact", ""},
		{"complained", "e@example.com", func(t *testing.T, e string) {
			signup(t, e, "uk-gdpr-checklist", true)
			if err := svc.RecordFeedback(ctx, consent.Feedback{ID: "n-" + e, Kind: consent.FeedbackComplaint, Recipients: []string{e}}); err != nil {
				t.Fatal(err)
			}
		}, false, consent.BasisNone, "suppressed 2026-11-02 after a spam complaint: no mail of any kind", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.steps(t, tt.email)
			// No purpose named: the configuration's one controller-wide
			// purpose, even with a narrower one configured beside it.
			got, err := svc.MayEmail(ctx, strings.ToUpper(tt.email), tt.purpose)
			if err != nil {
				t.Fatal(err)
			}
			purpose := tt.purpose
			if purpose == "" {
				purpose = consenttest.SamplePurpose
			}
			if got.Allowed != tt.wantAllowed || got.Basis != tt.wantBasis || got.Reason != tt.wantReason || got.Purpose != purpose {
				t.Errorf("MayEmail: got %+v, want allowed=%v basis=%s reason %q", got, tt.wantAllowed, tt.wantBasis, tt.wantReason)
			}
		})
	}
}

// twoMagnetCatalog is the sample catalog plus two more magnets of the same
// controller: "seo-guide", which asks who people sign up as, and
// "seo-tips", which asks for the narrower purpose "weekly SEO tips".
func twoMagnetCatalog(t *testing.T) *magnet.Catalog {
	t.Helper()
	first := consenttest.SampleMagnet(t)
	second := first
	second.ID, second.Title, second.AskSubscriberType = "seo-guide", "The SEO Guide", true
	third := first
	third.ID, third.Title = "seo-tips", "SEO Tips"
	third.Purpose = &magnet.Purpose{ID: "seo-tips", Name: "weekly SEO tips"}
	return consenttest.CatalogOf(t, first, second, third)
}
