package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/magnet"
)

// recordsCatalog writes a catalog of two magnets of one controller: the
// sample, with a privacy contact and DPO, and a guide with a narrower
// purpose and two extra purposes, one of them a named partner.
func recordsCatalog(t *testing.T) string {
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
	data, err := json.Marshal(map[string]any{"magnets": []magnet.Magnet{m, g}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "magnets.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRecordsText(t *testing.T) {
	magnets := recordsCatalog(t)
	t.Setenv("AWS_REGION", "eu-west-1")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"records", "-magnets", magnets, "-base-url", "https://signup.example.com",
		"-unconfirmed-days", "14", "-withdrawn-days", "1095"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	text := out.String()
	for _, want := range []string{
		"RECORD OF PROCESSING ACTIVITIES (UK GDPR Article 30)",
		"data kept in: Amazon Web Services, region eu-west-1 (Ireland)", // from AWS_REGION
		"Controller: Example Ltd, 1 High Street",
		"Contact about data: privacy@example.com, support@example.com",
		"Data protection officer: Jane Doe, dpo@example.com",
		"Magnets: uk-gdpr-checklist, seo-guide",
		"Activity: Delivering the downloads people ask for [deliver-downloads]",
		"Activity: Email marketing: marketing email from Example Ltd (monthly) [marketing:example-ltd]",
		"Activity: Email marketing: weekly SEO tips from Example Ltd (weekly) [marketing:example-ltd/seo-tips]",
		"Activity: Email marketing: offers from Books R Us Ltd [marketing:example-ltd/books-r-us]",
		"Recipients: Amazon Web Services (AWS), processor; Books R Us Ltd, 2 Low St, Leeds (named partner; only people who ticked this box)",
		"Activity: Email marketing: the monthly digest from Example Ltd [marketing:example-ltd/digest]",
		"[proof]", "[imports]",
		"subscriber type; for a company: organisation name, role, Companies House number",
		"Processors:\n  - Amazon Web Services (AWS): ", "Amazon SES", "DynamoDB",
		"Transfers: Your data is kept in Ireland",
		"Retention (unconfirmed 14 days, evidence 365 days, withdrawn 1095 days):",
		"erased 14 days after their last event", "truncated 365 days after", "erased 1095 days after the withdrawal",
		"encryption at rest", "TLS", "keyed hashes", "least-privilege IAM",
		"self-service at https://signup.example.com/privacy",
		"Complaints: Data subjects may complain to the Information Commissioner's Office (ICO)", "0303 123 1113",
		"PRIVACY-NOTICE FACTS",
		"Magnet seo-guide (The SEO Guide)",
		"Full notice: https://signup.example.com/notice?magnet=seo-guide",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("records lack %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "Books R Us Ltd, 2 Low St, Leeds (named partner"); n != 1 {
		t.Errorf("the partner is a recipient of %d activities, want 1 (its own purpose)", n)
	}
	if strings.Contains(text, "No -base-url") {
		t.Errorf("records note a missing -base-url that was given")
	}
	// The notice version printed is the one the service records.
	catalog, err := magnet.Load(magnets)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := catalog.Get("seo-guide")
	n := consent.NoticeFor(m, consent.Retention{Unconfirmed: 14 * 24 * time.Hour, Withdrawn: 1095 * 24 * time.Hour}, consent.Hosting{Region: "eu-west-1", BaseURL: "https://signup.example.com"})
	if !strings.Contains(text, "Notice version: "+n.ID) {
		t.Errorf("records lack the seo-guide notice version %s", n.ID)
	}
}

func TestRecordsJSON(t *testing.T) {
	magnets := recordsCatalog(t)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"records", "-magnets", magnets, "--json", "-region", "eu-west-2"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	var rec Records
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(rec.Controllers) != 1 {
		t.Fatalf("%d controllers, want 1", len(rec.Controllers))
	}
	var purposes []string
	for _, a := range rec.Controllers[0].Activities {
		purposes = append(purposes, a.Purpose)
	}
	want := []string{"deliver-downloads", "marketing:example-ltd", "marketing:example-ltd/seo-tips", "marketing:example-ltd/books-r-us", "marketing:example-ltd/digest", "proof", "imports"}
	if !slices.Equal(purposes, want) {
		t.Errorf("activities: got %q, want %q", purposes, want)
	}
	if r := rec.Retention; r.UnconfirmedDays != 30 || r.EvidenceDays != 365 || r.WithdrawnDays != 730 {
		t.Errorf("retention: got %+v, want the defaults 30/365/730", r)
	}
	if rec.Hosting != "Amazon Web Services, region eu-west-2 (London)" || len(rec.Processors) != 1 {
		t.Errorf("hosting %q, processors %+v", rec.Hosting, rec.Processors)
	}
	if len(rec.Notices) != 2 || rec.Notices[0].Contact != "privacy@example.com" || rec.Notices[1].Contact != "support@example.com" ||
		!consent.IsNoticeID(rec.Notices[0].NoticeVersion) || !strings.Contains(rec.Notices[1].Text, "Books R Us Ltd") {
		t.Errorf("notices: %+v", rec.Notices)
	}
	if !slices.ContainsFunc(rec.Notes, func(n string) bool { return strings.Contains(n, "No -base-url") }) {
		t.Errorf("notes %q do not say the base URL is missing", rec.Notes)
	}

	// The local server: no processors, no transfers, its own base URL.
	out.Reset()
	if code := run(context.Background(), []string{"records", "-magnets", magnets, "-json", "-local"}, &out, &errb); code != 0 {
		t.Fatalf("-local: exit %d, stderr %s", code, errb.String())
	}
	rec = Records{}
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Processors) != 0 || !strings.Contains(rec.Transfers, "not transferred") || rec.Notices[0].NoticeURL != localBaseURL+"/notice?magnet=uk-gdpr-checklist" {
		t.Errorf("-local: processors %+v, transfers %q, notice URL %q", rec.Processors, rec.Transfers, rec.Notices[0].NoticeURL)
	}
}

func TestRecordsHTML(t *testing.T) {
	magnets := recordsCatalog(t)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"records", "-magnets", magnets, "-html"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	page := out.String()
	for _, want := range []string{"<h1>Record of processing activities (UK GDPR Article 30)</h1>", "<h2>Controller: Example Ltd</h2>",
		"<h3>Email marketing: offers from Books R Us Ltd <small>(marketing:example-ltd/books-r-us)</small></h3>", "<h1>Privacy-notice facts</h1>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Errorf("page has a script")
	}
}

func TestRecordsErrors(t *testing.T) {
	magnets := recordsCatalog(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"json and html", []string{"records", "-magnets", magnets, "-json", "-html"}, 2, "choose one of -json and -html"},
		{"an operand", []string{"records", "-magnets", magnets, "extra"}, 2, `unexpected "extra"`},
		{"negative days", []string{"records", "-magnets", magnets, "-evidence-days", "-1"}, 2, "whole days"},
		{"days out of bounds", []string{"records", "-magnets", magnets, "-unconfirmed-days", "2"}, 2, "-unconfirmed-days 7-365"},
		{"bad base URL", []string{"records", "-magnets", magnets, "-base-url", "ftp://x.example"}, 2, "-base-url"},
		{"no catalog", []string{"records", "-magnets", filepath.Join(t.TempDir(), "none.json")}, 1, "read magnet catalog"},
		{"help", []string{"records", "-h"}, 0, "Usage: unbundled records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb)
			if code != tt.wantCode || !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("got exit %d, stderr %q; want exit %d and stderr containing %q", code, errb.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}
