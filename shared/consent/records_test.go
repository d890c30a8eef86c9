package consent_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/consent/consenttest/memstore"
	"github.com/unbundled/unbundled/shared/magnet"
)

// recordsCatalog is a catalog of two magnets of one controller: the
// sample, with a privacy contact and DPO, and a guide with a narrower
// purpose and two extra purposes, one of them a named partner.
func recordsCatalog(t *testing.T) *magnet.Catalog {
	t.Helper()
	m := consenttest.SampleMagnet(t)
	m.PrivacyContact = "privacy@example.com"
	m.DPO = "Jane Doe, dpo@example.com"
	g := consenttest.SampleMagnet(t)
	g.ID, g.Title, g.Frequency = "seo-guide", "The SEO Guide", "weekly"
	g.Purpose = &magnet.Purpose{ID: "seo-tips", Name: "weekly SEO tips"}
	g.AskSubscriberType = true
	g.ExtraPurposes = []magnet.ExtraPurpose{
		{ID: "books-r-us", Name: "offers from Books R Us Ltd", Wording: "Yes, pass my email address to Books R Us Ltd so they can email me offers.", Partner: "Books R Us Ltd, 2 Low St, Leeds"},
		{ID: "digest", Name: "the monthly digest from Example Ltd", Wording: "Yes, send me the monthly digest."},
	}
	return consenttest.CatalogOf(t, m, g)
}

// containsAll reports the items of want no string in got contains.
func containsAll(got []string, want ...string) (missing []string) {
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, w) }) {
			missing = append(missing, w)
		}
	}
	return missing
}

func TestBuildRecords(t *testing.T) {
	const day = 24 * time.Hour
	catalog := recordsCatalog(t)
	policy := consent.Retention{Unconfirmed: 14 * day, Withdrawn: 1095 * day}
	host := consent.Hosting{Region: "eu-west-1", BaseURL: "https://signup.example.com"}
	rec := consent.BuildRecords(catalog, policy, host)

	if rec.Hosting != "Amazon Web Services, region eu-west-1 (Ireland)" {
		t.Errorf("hosting: got %q", rec.Hosting)
	}
	if len(rec.Controllers) != 1 {
		t.Fatalf("%d controllers, want 1", len(rec.Controllers))
	}
	c := rec.Controllers[0]
	if c.Name != "Example Ltd" || !strings.HasPrefix(c.Details, "Example Ltd, 1 High Street") ||
		!slices.Equal(c.Contacts, []string{"privacy@example.com", "support@example.com"}) ||
		!slices.Equal(c.DPOs, []string{"Jane Doe, dpo@example.com"}) || !slices.Equal(c.Magnets, []string{"uk-gdpr-checklist", "seo-guide"}) {
		t.Errorf("controller: %+v", c)
	}
	var purposes []string
	partner := 0
	for _, a := range c.Activities {
		purposes = append(purposes, a.Purpose)
		if slices.Contains(a.Recipients, "Books R Us Ltd, 2 Low St, Leeds (named partner; only people who ticked this box)") {
			partner++
			if a.Purpose != "marketing:example-ltd/books-r-us" {
				t.Errorf("the partner is a recipient of %s", a.Purpose)
			}
		}
	}
	want := []string{"deliver-downloads", "marketing:example-ltd", "marketing:example-ltd/seo-tips", "marketing:example-ltd/books-r-us", "marketing:example-ltd/digest", "proof", "imports"}
	if !slices.Equal(purposes, want) {
		t.Errorf("activities: got %q, want %q", purposes, want)
	}
	if partner != 1 {
		t.Errorf("the partner is a recipient of %d activities, want 1 (its own purpose)", partner)
	}
	deliver, seo := c.Activities[0], c.Activities[2]
	if missing := containsAll(deliver.Data, "subscriber type; for a company: organisation name, role, Companies House number"); missing != nil {
		t.Errorf("deliver-downloads data %q lack %q", deliver.Data, missing)
	}
	if !strings.Contains(deliver.Retention, "erased 14 days after the last event") || !slices.Equal(deliver.Recipients, []string{"Amazon Web Services (AWS), processor"}) {
		t.Errorf("deliver-downloads: %+v", deliver)
	}
	if seo.Name != "Email marketing: weekly SEO tips from Example Ltd (weekly)" || !slices.Equal(seo.Magnets, []string{"seo-guide"}) ||
		!strings.Contains(seo.Retention, "within 1095 days") {
		t.Errorf("seo-tips: %+v", seo)
	}

	if len(rec.Processors) != 1 || rec.Processors[0].Name != "Amazon Web Services (AWS)" ||
		!strings.Contains(rec.Processors[0].Does, "Amazon SES") || !strings.Contains(rec.Processors[0].Does, "DynamoDB") {
		t.Errorf("processors: %+v", rec.Processors)
	}
	if !strings.HasPrefix(rec.Transfers, "Your data is kept in Ireland") {
		t.Errorf("transfers: %q", rec.Transfers)
	}
	if r := rec.Retention; r.UnconfirmedDays != 14 || r.EvidenceDays != 365 || r.WithdrawnDays != 1095 {
		t.Errorf("retention: got %+v, want 14/365 (default)/1095", r)
	}
	if missing := containsAll(rec.Retention.Rules, "erased 14 days after their last event", "truncated 365 days after", "erased 1095 days after the withdrawal"); missing != nil {
		t.Errorf("retention rules lack %q", missing)
	}
	if missing := containsAll(rec.Security, "encryption at rest", "TLS", "keyed hashes", "least-privilege IAM"); missing != nil {
		t.Errorf("security measures lack %q", missing)
	}
	if missing := containsAll(rec.Rights, "self-service at https://signup.example.com/privacy", "https://signup.example.com/withdraw"); missing != nil {
		t.Errorf("rights lack %q", missing)
	}
	if !strings.Contains(rec.Complaints, "the Information Commissioner's Office (ICO)") || !strings.Contains(rec.Complaints, "0303 123 1113") {
		t.Errorf("complaints: %q", rec.Complaints)
	}
	if len(rec.Notices) != 2 {
		t.Fatalf("%d notices, want 2", len(rec.Notices))
	}
	first, guide := rec.Notices[0], rec.Notices[1]
	if first.Contact != "privacy@example.com" || first.DPO != "Jane Doe, dpo@example.com" || guide.Contact != "support@example.com" ||
		guide.Magnet != "seo-guide" || guide.Title != "The SEO Guide" || guide.NoticeURL != "https://signup.example.com/notice?magnet=seo-guide" ||
		!strings.Contains(guide.Text, "Books R Us Ltd") {
		t.Errorf("notices: %+v", rec.Notices)
	}
	// The notice version is the one the service records.
	m, _ := catalog.Get("seo-guide")
	if n := consent.NoticeFor(m, policy, host); guide.NoticeVersion != n.ID || guide.Short != n.Short || guide.Text != n.Text {
		t.Errorf("seo-guide notice version %q, want %q", guide.NoticeVersion, n.ID)
	}
	if slices.ContainsFunc(rec.Notes, func(n string) bool { return strings.Contains(n, "No -base-url") }) {
		t.Errorf("records note a missing base URL that was given: %q", rec.Notes)
	}
	if again := consent.BuildRecords(catalog, policy, host); !reflect.DeepEqual(rec, again) {
		t.Errorf("BuildRecords is not deterministic")
	}
}

func TestBuildRecordsDefaultsAndLocal(t *testing.T) {
	catalog := recordsCatalog(t)
	rec := consent.BuildRecords(catalog, consent.Retention{}, consent.Hosting{Region: "eu-west-2"})
	if r := rec.Retention; r.UnconfirmedDays != 30 || r.EvidenceDays != 365 || r.WithdrawnDays != 730 {
		t.Errorf("retention: got %+v, want the defaults 30/365/730", r)
	}
	if rec.Hosting != "Amazon Web Services, region eu-west-2 (London)" || len(rec.Processors) != 1 {
		t.Errorf("hosting %q, processors %+v", rec.Hosting, rec.Processors)
	}
	if !slices.ContainsFunc(rec.Notes, func(n string) bool { return strings.Contains(n, "No -base-url") }) {
		t.Errorf("notes %q do not say the base URL is missing", rec.Notes)
	}
	if rec.Notices[0].NoticeURL != "/notice?magnet=uk-gdpr-checklist" || !consent.IsNoticeID(rec.Notices[0].NoticeVersion) {
		t.Errorf("without a base URL: notice %+v", rec.Notices[0])
	}

	// The local server: no processors, no transfers, data on this computer.
	rec = consent.BuildRecords(catalog, consent.Retention{}, consent.Hosting{Local: true, BaseURL: "http://127.0.0.1:8080"})
	if len(rec.Processors) != 0 || !strings.Contains(rec.Transfers, "not transferred") ||
		rec.Notices[0].NoticeURL != "http://127.0.0.1:8080/notice?magnet=uk-gdpr-checklist" {
		t.Errorf("local: processors %+v, transfers %q, notice URL %q", rec.Processors, rec.Transfers, rec.Notices[0].NoticeURL)
	}
	if missing := containsAll(rec.Security, "data files on this computer only"); missing != nil || slices.ContainsFunc(rec.Security, func(s string) bool { return strings.Contains(s, "IAM") }) {
		t.Errorf("local security measures: %q", rec.Security)
	}
	for _, a := range rec.Controllers[0].Activities {
		if !slices.Contains(a.Recipients, "none (data stays on this computer)") {
			t.Errorf("local %s: recipients %q", a.Purpose, a.Recipients)
		}
	}
}

// TestServiceRecords: the service's records are those of its live
// configuration, linking under its base URL, so the notice versions are
// the ones its sign-ups record.
func TestServiceRecords(t *testing.T) {
	svc := consenttest.Service(t, memstore.New(), time.Now)
	svc.Catalog = recordsCatalog(t)
	svc.Retention = consent.Retention{Withdrawn: 1095 * 24 * time.Hour}
	svc.Hosting = consent.Hosting{Region: "eu-west-1"}
	ctx := context.Background()
	rec := svc.Records(ctx)
	want := consent.BuildRecords(svc.Catalog, svc.Retention, consent.Hosting{Region: "eu-west-1", BaseURL: svc.BaseURL})
	if !reflect.DeepEqual(rec, want) || rec.Retention.WithdrawnDays != 1095 {
		t.Errorf("records: got %+v\nwant %+v", rec, want)
	}
	for i, m := range svc.Catalog.All() {
		if n := svc.CurrentNotice(ctx, m); rec.Notices[i].NoticeVersion != n.ID {
			t.Errorf("%s: notice version %q, want the current %q", m.ID, rec.Notices[i].NoticeVersion, n.ID)
		}
	}
	// A request's link base (the Lambda adapter's, without a public base URL).
	rec = svc.Records(consent.WithBaseURL(ctx, "https://abc.execute-api.eu-west-1.amazonaws.com"))
	if got := rec.Notices[0].NoticeURL; got != "https://abc.execute-api.eu-west-1.amazonaws.com/notice?magnet=uk-gdpr-checklist" {
		t.Errorf("with the request's base URL: notice URL %q", got)
	}
}
