package consent_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// A grant says whether the form named the wording it showed: the current
// version or an archived older one is verified (and the older one's text
// is recorded), no version is unverified and quotes the wording configured
// at the time. Either way the consent counts.
func TestGrantWordingStatus(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	old, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
	oldVersion := consent.NewWordingVersion(old)
	if err := f.svc.ArchiveCurrentWordings(ctx); err != nil {
		t.Fatal(err)
	}
	const newWording = "Yes, Example Ltd may email me its monthly newsletter. I can unsubscribe at any time."
	f.setMagnet(t, func(m *magnet.Magnet) { m.ConsentWording = newWording })
	current, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
	currentVersion := consent.NewWordingVersion(current)

	tests := []struct {
		name, email, version string
		wantStatus           string
		wantVersion          consent.WordingVersion
	}{
		{"current version named", "cur@example.com", currentVersion.ID, consent.WordingVerified, currentVersion},
		{"older archived version named", "old@example.com", oldVersion.ID, consent.WordingVerified, oldVersion},
		{"no version", "none@example.com", "", consent.WordingUnverified, currentVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.svc.Signup(ctx, consent.SignupRequest{Email: tt.email, Magnet: "uk-gdpr-checklist", Consent: true,
				Method: consent.MethodForm, WordingVersion: tt.version, Evidence: ev})
			if err != nil {
				t.Fatal(err)
			}
			events := f.ledger(t, tt.email)
			if types(events) != "signup,granted" {
				t.Fatalf("ledger: %s, want signup,granted", types(events))
			}
			g := events[1]
			if g.WordingStatus != tt.wantStatus || g.WordingVersion != tt.wantVersion.ID || g.Wording != tt.wantVersion.Wording {
				t.Errorf("grant: status %q, version %s, wording %q; want %q, %s, %q", g.WordingStatus, g.WordingVersion, g.Wording, tt.wantStatus, tt.wantVersion.ID, tt.wantVersion.Wording)
			}
			if events[0].WordingStatus != "" {
				t.Errorf("signup event has wording status %q, want none", events[0].WordingStatus)
			}
			if st := consent.MarketingStatus(events, g.Purpose); !st.Consented() {
				t.Errorf("consent state %s, want it to count", st.State)
			}
		})
	}
}

// A proof says plainly when the wording of a grant is not verified, and
// when it is.
func TestProofSaysWhetherTheWordingIsVerified(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
	for email, version := range map[string]string{"unverified@example.com": "", "verified@example.com": consent.NewWordingVersion(m).ID} {
		err := f.svc.Signup(ctx, consent.SignupRequest{Email: email, Magnet: "uk-gdpr-checklist", Consent: true,
			Method: consent.MethodJSON, WordingVersion: version, Evidence: ev})
		if err != nil {
			t.Fatal(err)
		}
	}
	const notVerified = "wording not verified: the form did not say which wording it showed; the configured wording at the time is quoted"
	tests := []struct {
		email       string
		wantSummary string // in the grant's summary
		wantDetail  string // the "Wording shown" detail
		summaryHas  bool
	}{
		{"unverified@example.com", notVerified, "not verified: the form did not say which wording it showed; the configured wording at the time is quoted", true},
		{"verified@example.com", notVerified, "verified: the form named this wording version", false},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			p, err := f.svc.Proof(ctx, tt.email)
			if err != nil {
				t.Fatal(err)
			}
			g := p.Events[1]
			if g.Event.Type != consent.EventGranted {
				t.Fatalf("event 2 is %s, want granted", g.Event.Type)
			}
			if got := strings.Contains(g.Summary, tt.wantSummary); got != tt.summaryHas {
				t.Errorf("summary %q: says the wording is not verified: %v, want %v", g.Summary, got, tt.summaryHas)
			}
			var detail string
			for _, d := range g.Details {
				if d.Label == "Wording shown" {
					detail = d.Value
				}
			}
			if detail != tt.wantDetail {
				t.Errorf("Wording shown: got %q, want %q", detail, tt.wantDetail)
			}
			var text bytes.Buffer
			if err := p.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.String(), "Wording shown: "+tt.wantDetail) {
				t.Errorf("text report lacks %q:\n%s", "Wording shown: "+tt.wantDetail, text.String())
			}
		})
	}
}
