package consent_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/magnet"
)

var london = consent.Hosting{Region: "eu-west-2", BaseURL: "https://signup.example.com"}

func TestNoticeIsDeterministic(t *testing.T) {
	m := consenttest.SampleMagnet(t)
	a, b := consent.NoticeFor(m, consent.Retention{}, london), consent.NoticeFor(m, consent.Retention{}, london)
	if a != b {
		t.Fatalf("the same inputs gave two notices:\n%+v\n%+v", a, b)
	}
	if !regexp.MustCompile(`^notice-[0-9a-f]{32}$`).MatchString(a.ID) {
		t.Errorf("ID %q, want notice- and 32 hex digits", a.ID)
	}
	if !consent.IsNoticeID(a.ID) || consent.IsNoticeID(consent.NewWordingVersion(m).ID) {
		t.Errorf("IsNoticeID tells notices and wordings apart wrongly")
	}
	// The default policy spelt out is the default policy.
	if got := consent.NoticeFor(m, consent.DefaultRetention, london); got != a {
		t.Errorf("DefaultRetention gave another notice than the zero policy")
	}
	changed := map[string]func() consent.Notice{
		"title": func() consent.Notice {
			m := m
			m.Title += " 2"
			return consent.NoticeFor(m, consent.Retention{}, london)
		},
		"dpo": func() consent.Notice {
			m := m
			m.DPO = "Jane Doe, dpo@example.com"
			return consent.NoticeFor(m, consent.Retention{}, london)
		},
		"retention": func() consent.Notice {
			return consent.NoticeFor(m, consent.Retention{Unconfirmed: 14 * 24 * time.Hour}, london)
		},
		"region": func() consent.Notice {
			return consent.NoticeFor(m, consent.Retention{}, consent.Hosting{Region: "eu-west-1", BaseURL: london.BaseURL})
		},
		"base URL": func() consent.Notice {
			return consent.NoticeFor(m, consent.Retention{}, consent.Hosting{Region: "eu-west-2", BaseURL: "https://other.example"})
		},
		"privacy policy as a path": func() consent.Notice {
			m := m
			m.PrivacyPolicyURL = "/privacy-policy"
			return consent.NoticeFor(m, consent.Retention{}, consent.Hosting{Region: "eu-west-2", BaseURL: "https://signup.example.com"})
		},
	}
	seen := map[string]string{a.ID: "sample"}
	for name, notice := range changed {
		n := notice()
		if other, dup := seen[n.ID]; dup {
			t.Errorf("changing the %s gave the id of %s: %s", name, other, n.ID)
		}
		seen[n.ID] = name
	}
}

// TestNoticeIDCoversWhatIsArchived: two notices with the same text but a
// different privacy-policy URL field (a path resolved against the base URL,
// and the same URL written out) are archived with different fields, so they
// must have different ids, or the second archive would conflict.
func TestNoticeIDCoversWhatIsArchived(t *testing.T) {
	m := consenttest.SampleMagnet(t)
	m.PrivacyPolicyURL = "/privacy-policy"
	path := consent.NoticeFor(m, consent.Retention{}, london)
	m.PrivacyPolicyURL = london.BaseURL + "/privacy-policy"
	full := consent.NoticeFor(m, consent.Retention{}, london)
	if path.Text != full.Text {
		t.Fatalf("texts differ; the test needs them equal:\n%s\n---\n%s", path.Text, full.Text)
	}
	if path.ID == full.ID {
		t.Errorf("same id %s for notices archived with different privacy-policy URLs", path.ID)
	}
}

func TestNoticeStatesEveryFact(t *testing.T) {
	m := consenttest.SampleMagnet(t)
	m.PrivacyContact = "privacy@example.com"
	m.DPO = "Jane Doe, dpo@example.com"
	m.AskSubscriberType = true
	r := consent.Retention{Unconfirmed: 14 * 24 * time.Hour, Evidence: 180 * 24 * time.Hour, Withdrawn: 3 * 365 * 24 * time.Hour}
	n := consent.NoticeFor(m, r, london)
	for _, want := range []string{
		"Privacy notice: The UK GDPR Lead-Magnet Checklist",
		// who we are
		m.Controller, "privacy@example.com", "Our data protection officer: Jane Doe, dpo@example.com", "https://example.com/privacy",
		// what we collect
		"your email address", "your first name", "Companies House number", "the time, your IP address, your browser's user agent, the address of the page the form was on",
		// purposes and bases
		"Article 6(1)(b)", "marketing email from Example Ltd (monthly)", "Article 6(1)(a)", "PECR regulation 22", "confirm by the link",
		"Articles 7(1) and 6(1)(c)", "Article 6(1)(f)",
		// recipients and transfers
		"Amazon Web Services (AWS), our processor", "Amazon SES delivers our emails", "Amazon DynamoDB stores the records",
		"kept in the United Kingdom: Amazon Web Services, region eu-west-2 (London).",
		// retention, from the policy
		"erase your data 14 days after your last sign-up", "shortened after 180 days", "erase your data 3 years later", "keyed hash of your email address",
		// rights
		"(access)", "(portability)", "(rectification)", "(erasure)", "(restriction)", "object to direct marketing at any time",
		"withdraw your consent at any time", "https://signup.example.com/withdraw", "go to https://signup.example.com/privacy or write to privacy@example.com",
		// complaints
		"Information Commissioner's Office (ICO)", "ico.org.uk", "0303 123 1113",
	} {
		if !strings.Contains(n.Text, want) {
			t.Errorf("notice lacks %q:\n%s", want, n.Text)
		}
	}
	for _, unwanted := range []string{"Recipient:", "30 days after your last sign-up", "1 year"} {
		if strings.Contains(n.Text, unwanted) {
			t.Errorf("notice says %q, which it should not:\n%s", unwanted, n.Text)
		}
	}
	if sentences := strings.Count(n.Short, ". ") + 1; sentences > 2 || !strings.HasPrefix(n.Short, "Example Ltd ") || !strings.Contains(n.Short, "ICO") {
		t.Errorf("Short: %q, want 1-2 sentences naming the controller and the ICO", n.Short)
	}

	// The defaults, a magnet that asks for less, contact falling back to reply_to.
	m = consenttest.SampleMagnet(t)
	n = consent.NoticeFor(m, consent.Retention{}, london)
	for _, want := range []string{"Contact us about your data: " + m.ReplyTo, "30 days", "shortened after 1 year", "2 years later"} {
		if !strings.Contains(n.Text, want) {
			t.Errorf("default notice lacks %q:\n%s", want, n.Text)
		}
	}
	for _, unwanted := range []string{"Companies House", "data protection officer"} {
		if strings.Contains(n.Text, unwanted) {
			t.Errorf("notice of a magnet that does not ask mentions %q", unwanted)
		}
	}
}

func TestNoticeNamesPartnersOnlyForTheirBoxes(t *testing.T) {
	m := consenttest.SampleMagnet(t)
	plain := consent.NoticeFor(m, consent.Retention{}, london)
	m.ExtraPurposes = []magnet.ExtraPurpose{
		{ID: "books-r-us", Name: "offers from Books R Us Ltd", Wording: "Yes, pass my email address to Books R Us Ltd so they can email me offers.", Partner: "Books R Us Ltd, 2 Low St, Leeds"},
		{ID: "digest", Name: "the monthly digest from Example Ltd", Wording: "Yes, send me the monthly digest."},
	}
	n := consent.NoticeFor(m, consent.Retention{}, london)
	for _, want := range []string{
		"To send you offers from Books R Us Ltd, only if you tick its own box. Basis: your consent",
		"Recipient: Books R Us Ltd, 2 Low St, Leeds.",
		"- If you tick the box for offers from Books R Us Ltd: Books R Us Ltd, 2 Low St, Leeds, for that purpose only.",
		"To send you the monthly digest from Example Ltd, only if you tick its own box.",
	} {
		if !strings.Contains(n.Text, want) {
			t.Errorf("notice lacks %q:\n%s", want, n.Text)
		}
	}
	if got := strings.Count(n.Text, "Recipient:"); got != 1 {
		t.Errorf("%d recipient lines, want 1: only the extra purpose with a partner names one", got)
	}
	if strings.Contains(plain.Text, "Books R Us") || plain.ID == n.ID {
		t.Errorf("a magnet without the extra purposes names the partner or has the same notice")
	}
}

func TestNoticeHosting(t *testing.T) {
	m := consenttest.SampleMagnet(t)
	tests := []struct {
		name      string
		host      consent.Hosting
		want      []string
		unwanted  []string
		processor bool
	}{
		{"local", consent.Hosting{Local: true, BaseURL: "http://127.0.0.1:8080"},
			[]string{"No one else: this service runs on a single computer", "it is not transferred anywhere", "http://127.0.0.1:8080/privacy"},
			[]string{"Amazon", "AWS"}, false},
		{"Ireland", consent.Hosting{Region: "eu-west-1"}, []string{"kept in Ireland: Amazon Web Services, region eu-west-1 (Ireland).", "adequacy"}, nil, true},
		{"United States", consent.Hosting{Region: "us-east-1"}, []string{"outside the UK, in the United States", "Article 46"}, nil, true},
		{"unknown region", consent.Hosting{Region: "xx-test-9"}, []string{"region xx-test-9", "If that is outside the UK"}, nil, true},
		{"no region, no base URL", consent.Hosting{}, []string{"in the region this service is deployed to", "go to /privacy or write to"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := consent.NoticeFor(m, consent.Retention{}, tt.host)
			for _, want := range tt.want {
				if !strings.Contains(n.Text, want) {
					t.Errorf("notice lacks %q:\n%s", want, n.Text)
				}
			}
			for _, unwanted := range tt.unwanted {
				if strings.Contains(n.Text, unwanted) {
					t.Errorf("notice mentions %q:\n%s", unwanted, n.Text)
				}
			}
			if got := len(tt.host.Processors()) > 0; got != tt.processor {
				t.Errorf("processors: got %v, want %v", tt.host.Processors(), tt.processor)
			}
		})
	}
	if got, want := (consent.Hosting{Region: "eu-west-2"}).Where(), "Amazon Web Services, region eu-west-2 (London)"; got != want {
		t.Errorf("Where: got %q, want %q", got, want)
	}
	if got, want := (consent.Hosting{Local: true}).Where(), "this computer (local server)"; got != want {
		t.Errorf("Where: got %q, want %q", got, want)
	}
}

func TestSignupRecordsNoticeAndPage(t *testing.T) {
	f := newFixture(t)
	f.svc.Hosting = consent.Hosting{Region: "eu-west-2"}
	ctx := context.Background()
	m, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
	err := f.svc.Signup(ctx, consent.SignupRequest{Email: "ann@example.com", Magnet: m.ID, Consent: true, Method: consent.MethodForm,
		PageURL: "https://example.com/landing", Evidence: ev})
	if err != nil {
		t.Fatal(err)
	}
	want := f.svc.CurrentNotice(ctx, m)
	if want.ID != consent.NoticeFor(m, consent.Retention{}, consent.Hosting{Region: "eu-west-2", BaseURL: "https://signup.example.com"}).ID {
		t.Errorf("CurrentNotice does not take links from the service's base URL")
	}
	ledger := f.ledger(t, "ann@example.com")
	if len(ledger) != 2 {
		t.Fatalf("ledger: %d events, want signup and granted", len(ledger))
	}
	for _, e := range ledger {
		if e.NoticeVersion != want.ID {
			t.Errorf("%s event: notice_version %q, want %q", e.Type, e.NoticeVersion, want.ID)
		}
	}
	if got := ledger[0].PageURL; got != "https://example.com/landing" {
		t.Errorf("signup page_url: got %q, want the page", got)
	}
	if got := ledger[1].PageURL; got != "" {
		t.Errorf("granted page_url: got %q, want none (it is on the signup event)", got)
	}
	v, err := f.svc.ArchivedNotice(ctx, m.ID, want.ID)
	if err != nil || v.Wording != want.Text || v.Controller != m.Controller || v.ArchivedAt.IsZero() {
		t.Errorf("the notice recorded is not archived as shown: %+v, %v", v, err)
	}

	// A freebie-only sign-up names the notice too.
	if err := f.svc.Signup(ctx, consent.SignupRequest{Email: "bob@example.com", Magnet: m.ID, Method: consent.MethodJSON, Evidence: ev}); err != nil {
		t.Fatal(err)
	}
	if e := f.ledger(t, "bob@example.com")[0]; e.NoticeVersion != want.ID || e.PageURL != "" {
		t.Errorf("freebie-only signup: notice %q page %q, want %q and none", e.NoticeVersion, e.PageURL, want.ID)
	}
}

func TestNoticeArchiveKeepsOldVersions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.svc.ArchiveCurrentWordings(ctx); err != nil {
		t.Fatal(err)
	}
	m, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
	old := f.svc.CurrentNotice(ctx, m)
	if v, err := f.svc.ArchivedNotice(ctx, m.ID, old.ID); err != nil || v.Wording != old.Text {
		t.Fatalf("ArchiveCurrentWordings did not archive the notice: %+v, %v", v, err)
	}

	// The business changes the magnet: a new notice; the old one still resolves.
	f.setMagnet(t, func(m *magnet.Magnet) {
		m.ConsentWording = "Yes, send me the weekly digest."
		m.Frequency = "weekly"
		m.DPO = "Jane Doe, dpo@example.com"
	})
	m2, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
	if err := f.svc.Signup(ctx, consent.SignupRequest{Email: "ann@example.com", Magnet: m.ID, Consent: true, Method: consent.MethodForm, Evidence: ev}); err != nil {
		t.Fatal(err)
	}
	current := f.svc.CurrentNotice(ctx, m2)
	if current.ID == old.ID {
		t.Fatal("the changed magnet kept its notice id")
	}
	if g := f.ledger(t, "ann@example.com")[1]; g.NoticeVersion != current.ID {
		t.Errorf("granted under the new notice names %q, want %q", g.NoticeVersion, current.ID)
	}
	for _, n := range []consent.Notice{old, current} {
		if v, err := f.svc.ArchivedNotice(ctx, m.ID, n.ID); err != nil || v.Wording != n.Text {
			t.Errorf("ArchivedNotice(%s): %+v, %v", n.ID, v, err)
		}
	}
	if !strings.Contains(old.Text, "(monthly)") || strings.Contains(old.Text, "data protection officer") {
		t.Errorf("the old notice's text changed")
	}

	// Only notice ids of that magnet resolve.
	for _, tt := range []struct{ magnetID, id string }{
		{m.ID, consent.NewWordingVersion(m).ID}, // a consent wording is no notice
		{"other-magnet", old.ID},
		{m.ID, "notice-00000000000000000000000000000000"},
	} {
		if _, err := f.svc.ArchivedNotice(ctx, tt.magnetID, tt.id); !errors.Is(err, consent.ErrNotFound) {
			t.Errorf("ArchivedNotice(%s, %s): got %v, want ErrNotFound", tt.magnetID, tt.id, err)
		}
	}
}

// TestNoticeIsNoConsentWording: the archive holds notices beside wordings;
// a form naming a notice as its consent_version must not record the notice
// as the wording consented to.
func TestNoticeIsNoConsentWording(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.svc.ArchiveCurrentWordings(ctx); err != nil {
		t.Fatal(err)
	}
	m, _ := f.svc.Catalog.Get("uk-gdpr-checklist")
	err := f.svc.Signup(ctx, consent.SignupRequest{Email: "ann@example.com", Magnet: m.ID, Consent: true, Method: consent.MethodForm,
		WordingVersion: f.svc.CurrentNotice(ctx, m).ID, Evidence: ev})
	var verr *consent.ValidationError
	if !errors.As(err, &verr) || verr.Fields["consent_version"] == "" {
		t.Fatalf("got %v, want a ValidationError on consent_version", err)
	}
	if got := f.ledger(t, "ann@example.com"); len(got) != 0 {
		t.Errorf("ledger: %d events, want none", len(got))
	}
}
