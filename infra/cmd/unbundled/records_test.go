package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
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

// TestRecordsText: the text rendering has every section of the records,
// built with the flags' region (default $AWS_REGION), base URL and
// retention periods.
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
		"Activity: Email marketing: weekly SEO tips from Example Ltd (weekly) [marketing:example-ltd/seo-tips]",
		"    Basis: ", "    Data subjects: ", "    Personal data: ",
		"Recipients: Amazon Web Services (AWS), processor; Books R Us Ltd, 2 Low St, Leeds (named partner; only people who ticked this box)",
		"    Retention: ",
		"Processors:\n  - Amazon Web Services (AWS): ",
		"Transfers: Your data is kept in Ireland",
		"Retention (unconfirmed 14 days, evidence 365 days, withdrawn 1095 days):",
		"Security measures:\n  - ",
		"Data subjects' rights, and how they are met:\n  - ",
		"self-service at https://signup.example.com/privacy",
		"Complaints: Data subjects may complain to the Information Commissioner's Office (ICO)",
		"PRIVACY-NOTICE FACTS",
		"Magnet seo-guide (The SEO Guide)",
		"  Privacy policy: ", "  Short notice: ",
		"Full notice: https://signup.example.com/notice?magnet=seo-guide",
		"Notes:\n  - ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("records lack %q:\n%s", want, text)
		}
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

// TestRecordsJSON: -json prints consent.BuildRecords for the flags, whole.
func TestRecordsJSON(t *testing.T) {
	magnets := recordsCatalog(t)
	catalog, err := magnet.Load(magnets)
	if err != nil {
		t.Fatal(err)
	}
	policy := consent.DefaultRetention.Days().Retention()
	for _, tt := range []struct {
		name string
		args []string
		host consent.Hosting
	}{
		{"AWS", []string{"--json", "-region", "eu-west-2"}, consent.Hosting{Region: "eu-west-2"}},
		{"local", []string{"-json", "-local"}, consent.Hosting{Local: true, Region: defaultRegion(os.Getenv), BaseURL: localBaseURL}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), append([]string{"records", "-magnets", magnets}, tt.args...), &out, &errb); code != 0 {
				t.Fatalf("exit %d, stderr %s", code, errb.String())
			}
			var rec consent.Records
			dec := json.NewDecoder(&out)
			dec.DisallowUnknownFields()
			if err := dec.Decode(&rec); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if want := consent.BuildRecords(catalog, policy, tt.host); !reflect.DeepEqual(rec, want) {
				t.Errorf("got %+v\nwant %+v", rec, want)
			}
		})
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
