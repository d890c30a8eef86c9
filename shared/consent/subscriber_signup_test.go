package consent_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/magnet"
)

// askType makes the sample magnet ask who people sign up as.
func askType(t *testing.T, f *fixture) {
	t.Helper()
	f.setMagnet(t, func(m *magnet.Magnet) { m.AskSubscriberType = true })
}

func companyReq(email string, consentGiven bool) consent.SignupRequest {
	req := signupReq(email, consentGiven)
	req.SubscriberType = consent.SubscriberCompany
	req.Organisation = consent.Organisation{Name: "Acme Widgets (UK) Ltd", Role: "Head of Procurement", Number: "sc 012345"}
	return req
}

// A company sign-up on a magnet that asks records the type, the
// organisation and the person's role on the signup event, normalised.
func TestSignupRecordsTheSubscriberType(t *testing.T) {
	tests := []struct {
		name     string
		req      consent.SignupRequest
		wantType string
		wantOrg  consent.Organisation
	}{
		{"company", companyReq("ann@example.com", true), consent.SubscriberCompany,
			consent.Organisation{Name: "Acme Widgets (UK) Ltd", Role: "Head of Procurement", Number: "SC012345", Kind: consent.OrgRegistered}},
		{"no type given is an individual", signupReq("ann@example.com", true), consent.SubscriberIndividual, consent.Organisation{}},
		{"sole trader", func() consent.SignupRequest {
			r := signupReq("ann@example.com", true)
			r.SubscriberType = consent.SubscriberSoleTrader
			return r
		}(), consent.SubscriberSoleTrader, consent.Organisation{}},
		{"public body", func() consent.SignupRequest {
			r := signupReq("ann@example.com", true)
			r.SubscriberType = consent.SubscriberCompany
			r.Organisation = consent.Organisation{Name: "Cyngor Sir Ynys Môn", Role: "Procurement officer", Kind: consent.OrgPublicBody}
			return r
		}(), consent.SubscriberCompany, consent.Organisation{Name: "Cyngor Sir Ynys Môn", Role: "Procurement officer", Kind: consent.OrgPublicBody}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			askType(t, f)
			if err := f.svc.Signup(context.Background(), tt.req); err != nil {
				t.Fatalf("Signup: %v", err)
			}
			events := f.ledger(t, "ann@example.com")
			if got, want := types(events), "signup,granted"; got != want {
				t.Fatalf("ledger: got %s, want %s", got, want)
			}
			s := events[0]
			if s.SubscriberType != tt.wantType || s.Organisation != tt.wantOrg {
				t.Errorf("signup event: got %q %+v, want %q %+v", s.SubscriberType, s.Organisation, tt.wantType, tt.wantOrg)
			}
			if g := events[1]; g.SubscriberType != "" || g.Organisation != (consent.Organisation{}) {
				t.Errorf("granted event carries the subscriber: %q %+v; want it on the signup event only", g.SubscriberType, g.Organisation)
			}
		})
	}
}

// On a magnet that does not ask, nothing about the subscriber is recorded:
// everyone is an individual.
func TestSignupWithoutTheQuestionRecordsNoType(t *testing.T) {
	f := newFixture(t)
	f.signup(t, "ann@example.com", true)
	if s := f.ledger(t, "ann@example.com")[0]; s.SubscriberType != "" || s.Organisation != (consent.Organisation{}) {
		t.Errorf("signup event: got %q %+v, want neither", s.SubscriberType, s.Organisation)
	}
}

// The unticked box is a "no" for a company too: the freebie goes out, no
// consent is recorded, and the one decision says no.
func TestCompanyWhoDidNotTickGetsNoConsent(t *testing.T) {
	f := newFixture(t)
	askType(t, f)
	if err := f.svc.Signup(context.Background(), companyReq("ann@acme.example", false)); err != nil {
		t.Fatalf("Signup: %v", err)
	}
	events := f.ledger(t, "ann@acme.example")
	if got, want := types(events), "signup"; got != want {
		t.Fatalf("ledger: got %s, want %s", got, want)
	}
	if events[0].SubscriberType != consent.SubscriberCompany {
		t.Errorf("subscriber type: got %q, want company", events[0].SubscriberType)
	}
	if st := consent.MarketingStatus(events, consenttest.SamplePurpose); st.Consented() {
		t.Errorf("status: got %s, want no consent", st.State)
	}
	d := consent.Decide(events, consenttest.SamplePurpose)
	if d.Allowed || d.Basis != consent.BasisNone {
		t.Errorf("Decide: got allowed=%v basis=%s, want not allowed, basis none", d.Allowed, d.Basis)
	}
	sent := f.mailer.Sent()
	if len(sent) != 1 {
		t.Fatalf("sent %d emails, want the freebie", len(sent))
	}
	if _, ok := consenttest.Header(sent[0], "List-Unsubscribe"); ok {
		t.Errorf("freebie to a company that did not tick carries List-Unsubscribe: it must not be marketing")
	}
}

// Invalid subscriber details are refused field by field, and nothing is
// stored or sent.
func TestSignupRefusesBadSubscriberDetails(t *testing.T) {
	tests := []struct {
		name       string
		asks       bool
		edit       func(*consent.SignupRequest)
		wantFields []string
	}{
		{"unknown type", true, func(r *consent.SignupRequest) { r.SubscriberType = "corporate" }, []string{"subscriber_type"}},
		{"company without details", true, func(r *consent.SignupRequest) {
			r.SubscriberType, r.Organisation = consent.SubscriberCompany, consent.Organisation{}
		}, []string{"company_number", "organisation", "role"}},
		{"company, bad number", true, func(r *consent.SignupRequest) { r.Organisation.Number = "SC12345" }, []string{"company_number"}},
		{"company, URL as name", true, func(r *consent.SignupRequest) { r.Organisation.Name = "www.acme.example" }, []string{"organisation"}},
		{"company, role too long", true, func(r *consent.SignupRequest) { r.Organisation.Role = strings.Repeat("a", 121) }, []string{"role"}},
		{"company, unknown kind", true, func(r *consent.SignupRequest) { r.Organisation.Kind = "charity" }, []string{"org_kind"}},
		{"individual with a company number", true, func(r *consent.SignupRequest) {
			r.SubscriberType = consent.SubscriberIndividual
			r.Organisation = consent.Organisation{Number: "01234567"}
		}, []string{"company_number"}},
		{"with other problems too", true, func(r *consent.SignupRequest) { r.Email, r.Organisation.Role = "nope", "" }, []string{"email", "role"}},
		// A magnet that does not ask refuses every type field sent.
		{"not asked: type", false, func(r *consent.SignupRequest) { r.Organisation = consent.Organisation{} }, []string{"subscriber_type"}},
		{"not asked: individual", false, func(r *consent.SignupRequest) {
			r.SubscriberType, r.Organisation = consent.SubscriberIndividual, consent.Organisation{}
		}, []string{"subscriber_type"}},
		{"not asked: company details", false, nil, []string{"company_number", "organisation", "role", "subscriber_type"}},
		{"not asked: organisation only", false, func(r *consent.SignupRequest) {
			r.SubscriberType, r.Organisation = "", consent.Organisation{Name: "Acme Ltd"}
		}, []string{"organisation"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.asks {
				askType(t, f)
			}
			req := companyReq("ann@example.com", true)
			if tt.edit != nil {
				tt.edit(&req)
			}
			err := f.svc.Signup(context.Background(), req)
			var verr *consent.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Signup: got %v, want a *ValidationError", err)
			}
			if got := slices.Sorted(maps.Keys(verr.Fields)); !slices.Equal(got, tt.wantFields) {
				t.Errorf("fields: got %v (%v), want %v", got, verr.Fields, tt.wantFields)
			}
			if f.store.Writes() != 0 || f.mailer.Calls() != 0 {
				t.Errorf("refused sign-up: %d writes, %d emails; want none", f.store.Writes(), f.mailer.Calls())
			}
		})
	}
}

// An Idempotency-Key reused for the same sign-up as another subscriber type
// is a different request.
func TestIdempotencyKeyCoversTheSubscriber(t *testing.T) {
	f := newFixture(t)
	askType(t, f)
	ctx := context.Background()
	first := companyReq("ann@example.com", true)
	first.IdempotencyKey = "key-1"
	if err := f.svc.Signup(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Signup(ctx, first); err != nil {
		t.Errorf("the same request again: got %v, want nil", err)
	}
	other := signupReq("ann@example.com", true)
	other.IdempotencyKey = "key-1"
	other.SubscriberType = consent.SubscriberSoleTrader
	if err := f.svc.Signup(ctx, other); !errors.Is(err, consent.ErrIdempotencyMismatch) {
		t.Errorf("the key with another subscriber type: got %v, want ErrIdempotencyMismatch", err)
	}
}
