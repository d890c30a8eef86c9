package storetest

import (
	"context"
	"errors"
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
	confirm := func(t *testing.T, email string) {
		t.Helper()
		if _, err := svc.Confirm(ctx, lastLink(t, email, "/confirm"), ev); err != nil {
			t.Fatal(err)
		}
	}
	importRows := func(t *testing.T, origin string, rows ...consent.ImportRow) error {
		t.Helper()
		for i := range rows {
			rows[i].Row = i + 2
		}
		f := consent.ImportFile{Name: "customers.csv", Digest: "d1g3st", Source: "orders in our web shop", Origin: origin, Rows: rows}
		_, err := svc.Import(ctx, f, consent.ImportOptions{Operator: "ops@example.com"})
		return err
	}
	customer := func(email, category string) consent.ImportRow {
		return consent.ImportRow{Email: email, Basis: consent.BasisSoftOptIn, SaleDate: "2026-03-01", SaleReference: "INV-1001",
			Category: category, OptOutOffered: "unticked box at checkout"}
	}
	companyContact := func(email string, purposes ...string) consent.ImportRow {
		return consent.ImportRow{Email: email, Basis: consent.BasisCorporate, Organisation: "Acme Widgets Ltd", CompanyNumber: "01234567",
			Role: "Head of Marketing", LIAReference: "LIA-2026-07", Purposes: purposes}
	}
	mustImport := func(t *testing.T, origin string, rows ...consent.ImportRow) {
		t.Helper()
		if err := importRows(t, origin, rows...); err != nil {
			t.Fatal(err)
		}
	}
	partner := consenttest.SamplePurpose + "/books-r-us"
	tips := consenttest.SamplePurpose + "/seo-tips"
	soReason := "soft opt-in: customer (sale INV-1001 on 2026-03-01, \"compliance guides\"; opt-out offered unticked box at checkout); imported 2026-11-02 from customers.csv — every message must offer the opt-out"
	corpReason := "corporate contact: Head of Marketing at Acme Widgets Ltd (01234567), legitimate-interests assessment LIA-2026-07; imported 2026-11-02 from customers.csv"
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
		{"partner purpose: its own box ticked and confirmed", "k@example.com", func(t *testing.T, e string) {
			signupWith(t, svc, e, false, "books-r-us")
			confirm(t, e)
		}, true, consent.BasisConsent, "consent given 2026-11-02 on magnet 'uk-gdpr-checklist', confirmed 2026-11-02", partner},
		{"partner purpose: only the main box ticked", "l@example.com", func(t *testing.T, e string) {
			signup(t, e, "uk-gdpr-checklist", true)
			confirm(t, e)
		}, false, consent.BasisNone, "no consent recorded for " + partner, partner},
		{"company contact imported with an assessment: yes for the purpose named", "m@acme.example", func(t *testing.T, e string) {
			mustImport(t, consent.OriginBusinessContacts, companyContact(e, tips))
		}, true, consent.BasisCorporate, corpReason, tips},
		{"company contact imported for another purpose: no for this one", "n@acme.example", func(t *testing.T, e string) {
			mustImport(t, consent.OriginBusinessContacts, companyContact(e, tips))
		}, false, consent.BasisNone, "no consent recorded for " + consenttest.SamplePurpose, ""},
		{"objected: no forever, even after a later import", "o@example.com", func(t *testing.T, e string) {
			if _, err := svc.RecordObjection(ctx, e, consent.MethodOperator, consent.Evidence{}); err != nil {
				t.Fatal(err)
			}
			mustImport(t, consent.OriginCustomers, customer(e, "compliance guides"))
			mustImport(t, consent.OriginBusinessContacts, companyContact(e))
		}, false, consent.BasisObjected, "objected 2026-11-02 (recorded by the operator) — do not contact", ""},
		{"soft opt-in with all three conditions: yes for a purpose selling that category", "p@example.com", func(t *testing.T, e string) {
			mustImport(t, consent.OriginCustomers, customer(e, "compliance guides"))
		}, true, consent.BasisSoftOptIn, soReason, ""},
		{"soft opt-in: no for a purpose selling other things", "q@example.com", func(t *testing.T, e string) {
			mustImport(t, consent.OriginCustomers, customer(e, "compliance guides"))
		}, false, consent.BasisNone, "no consent recorded for " + tips, tips},
		{"soft opt-in with a condition missing: the import is refused", "r@example.com", func(t *testing.T, e string) {
			row := customer(e, "compliance guides")
			row.OptOutOffered = ""
			var refused *consent.ImportError
			if err := importRows(t, consent.OriginCustomers, customer("r2@example.com", "compliance guides"), row); !errors.As(err, &refused) {
				t.Fatalf("import with no opt-out evidence: got %v, want *ImportError", err)
			}
			if d, err := svc.MayEmail(ctx, "r2@example.com", ""); err != nil || d.Allowed {
				t.Fatalf("the good row of a refused file was written: %+v, %v", d, err)
			}
		}, false, consent.BasisNone, "no consent recorded for " + consenttest.SamplePurpose, ""},
		{"withdrawn, then imported as a customer: still no", "s@example.com", func(t *testing.T, e string) {
			signup(t, e, "uk-gdpr-checklist", true)
			confirm(t, e)
			if _, err := svc.Withdraw(ctx, lastLink(t, e, "/unsubscribe"), consent.MethodOneClick, ev); err != nil {
				t.Fatal(err)
			}
			mustImport(t, consent.OriginCustomers, customer(e, "compliance guides"))
		}, false, consent.BasisNone, "withdrawn 2026-11-02 by one-click unsubscribe", ""},
		{"erased: no, and never re-added", "u@example.com", func(t *testing.T, e string) {
			signup(t, e, "uk-gdpr-checklist", true)
			confirm(t, e)
			if _, err := svc.Erase(ctx, e, "erasure request by email"); err != nil {
				t.Fatal(err)
			}
			mustImport(t, consent.OriginCustomers, customer(e, "compliance guides"))
		}, false, consent.BasisNone, "erased 2026-11-02 (erasure request by email): nothing is kept — do not contact or re-add", ""},
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
// "seo-tips", which asks for the narrower purpose "weekly SEO tips" (about
// "SEO audits"). The sample magnet sells "compliance guides" and asks
// separately for the partner purpose "books-r-us".
func twoMagnetCatalog(t *testing.T) *magnet.Catalog {
	t.Helper()
	first := consenttest.SampleMagnet(t)
	second := first
	second.ID, second.Title, second.AskSubscriberType = "seo-guide", "The SEO Guide", true
	third := first
	third.ID, third.Title = "seo-tips", "SEO Tips"
	third.Purpose = &magnet.Purpose{ID: "seo-tips", Name: "weekly SEO tips"}
	third.ProductCategories = []string{"SEO audits"}
	first.ProductCategories = []string{"compliance guides"}
	first.ExtraPurposes = []magnet.ExtraPurpose{{ID: "books-r-us", Name: "offers from Books R Us Ltd", Partner: "Books R Us Ltd, 2 Low Street, Leeds",
		Wording: "Yes, pass my email address to Books R Us Ltd so they can email me offers about business books."}}
	return consenttest.CatalogOf(t, first, second, third)
}

// signupWith signs email up for the sample magnet, ticking the main box or
// not and the extra purposes named.
func signupWith(t *testing.T, svc *consent.Service, email string, ticked bool, extras ...string) {
	t.Helper()
	err := svc.Signup(context.Background(), consent.SignupRequest{Email: email, Magnet: "uk-gdpr-checklist", Consent: ticked, Purposes: extras,
		Method: consent.MethodForm, Evidence: consent.Evidence{SourceIP: "203.0.113.9"}})
	if err != nil {
		t.Fatal(err)
	}
}
