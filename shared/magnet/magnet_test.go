package magnet

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	data, err := os.ReadFile("testdata/valid.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	m, ok := c.Get("uk-gdpr-checklist")
	if !ok {
		t.Fatalf("Get(uk-gdpr-checklist): not found")
	}
	if got, want := m.Frequency, "monthly"; got != want {
		t.Errorf("frequency: got %q, want %q", got, want)
	}
	if got := len(c.All()); got != 1 {
		t.Errorf("All: got %d magnets, want 1", got)
	}
	if !m.AllowsOrigin("http://127.0.0.1:8080") || m.AllowsOrigin("https://evil.example") {
		t.Errorf("AllowsOrigin: wrong answer for listed or unlisted origin")
	}
}

// extra is a valid extra purpose with the given id, as JSON.
func extra(id string) string {
	return `{"id":"` + id + `","name":"offers from B Ltd","consent_wording":"Yes, B Ltd may email me offers","partner":"B Ltd, 2 Low St"}`
}

func TestParseNamesTheBadField(t *testing.T) {
	valid := `"id":"ebook","title":"T","description":"D","download_url":"https://x.example/f.pdf",` +
		`"sender_name":"S","sender_email":"s@x.example","consent_wording":"W","frequency":"weekly",` +
		`"privacy_policy_url":"https://x.example/p","controller":"C"`
	tests := []struct {
		name, json, wantField string
	}{
		{"bad id", `{"magnets":[{` + strings.Replace(valid, `"id":"ebook"`, `"id":"Bad ID"`, 1) + `}]}`, "id"},
		{"missing wording", `{"magnets":[{` + strings.Replace(valid, `"consent_wording":"W"`, `"consent_wording":""`, 1) + `}]}`, "consent_wording"},
		{"bad frequency", `{"magnets":[{` + strings.Replace(valid, `"weekly"`, `"hourly"`, 1) + `}]}`, "frequency"},
		{"sender display name", `{"magnets":[{` + strings.Replace(valid, `"s@x.example"`, `"S <s@x.example>"`, 1) + `}]}`, "sender_email"},
		{"title with newline", `{"magnets":[{` + strings.Replace(valid, `"title":"T"`, `"title":"T\nBcc: x@y"`, 1) + `}]}`, "title"},
		{"relative thank-you", `{"magnets":[{` + valid + `,"thank_you_url":"/thanks"}]}`, "thank_you_url"},
		{"origin with path", `{"magnets":[{` + valid + `,"allowed_origins":["https://x.example/page"]}]}`, "allowed_origins[0]"},
		{"unknown field", `{"magnets":[{` + valid + `,"frequncy":"weekly"}]}`, "frequncy"},
		{"duplicate id", `{"magnets":[{` + valid + `},{` + valid + `}]}`, "used twice"},
		{"no magnets", `{"magnets":[]}`, "at least one"},
		{"subscriber type not a bool", `{"magnets":[{` + valid + `,"ask_subscriber_type":"yes"}]}`, "ask_subscriber_type"},
		{"purpose with a bad id", `{"magnets":[{` + valid + `,"purpose":{"id":"SEO tips","name":"weekly SEO tips"}}]}`, "purpose.id"},
		{"purpose without a name", `{"magnets":[{` + valid + `,"purpose":{"id":"seo-tips"}}]}`, "purpose.name"},
		{"controller without letters", `{"magnets":[{` + strings.Replace(valid, `"controller":"C"`, `"controller":"--"`, 1) + `}]}`, "controller"},
		{"vague recipients in the main wording", `{"magnets":[{` + strings.Replace(valid, `"consent_wording":"W"`, `"consent_wording":"Yes, send me offers from Selected Third-Parties"`, 1) + `}]}`, "consent_wording: must not say \"selected third parties\""},
		{"extra without an id", `{"magnets":[{` + valid + `,"extra_purposes":[{"name":"offers from B Ltd","consent_wording":"Yes, B Ltd may email me"}]}]}`, "extra_purposes[0].id"},
		{"extra id twice", `{"magnets":[{` + valid + `,"extra_purposes":[` + extra("b") + `,` + extra("b") + `]}]}`, "extra_purposes[1].id"},
		{"extra id is the purpose id", `{"magnets":[{` + valid + `,"purpose":{"id":"b","name":"news"},"extra_purposes":[` + extra("b") + `]}]}`, "extra_purposes[0].id"},
		{"extra without a name", `{"magnets":[{` + valid + `,"extra_purposes":[{"id":"b","consent_wording":"Yes, B Ltd may email me"}]}]}`, "extra_purposes[0].name"},
		{"extra without wording", `{"magnets":[{` + valid + `,"extra_purposes":[{"id":"b","name":"offers from B Ltd"}]}]}`, "extra_purposes[0].consent_wording"},
		{"extra naming no one", `{"magnets":[{` + valid + `,"extra_purposes":[{"id":"b","name":"offers","consent_wording":"Yes, our trusted partners may email me"}]}]}`, "extra_purposes[0].consent_wording: must not say \"trusted partners\""},
		{"partner not in the wording", `{"magnets":[{` + valid + `,"extra_purposes":[{"id":"b","name":"offers from B Ltd","consent_wording":"Yes, send me book offers","partner":"Books R Us Ltd, 2 Low St, Leeds"}]}]}`, "extra_purposes[0].consent_wording: must name the partner \"Books R Us Ltd\""},
		{"partner on two lines", `{"magnets":[{` + valid + `,"extra_purposes":[{"id":"b","name":"offers from B Ltd","consent_wording":"Yes, B Ltd may email me","partner":"B Ltd\nBcc: x"}]}]}`, "extra_purposes[0].partner"},
		{"six extras", `{"magnets":[{` + valid + `,"extra_purposes":[` + extra("a") + `,` + extra("b") + `,` + extra("c") + `,` + extra("d") + `,` + extra("e") + `,` + extra("f") + `]}]}`, "extra_purposes: at most 5"},
		{"unknown extra field", `{"magnets":[{` + valid + `,"extra_purposes":[{"id":"b","name":"n","consent_wording":"w","partnr":"B Ltd"}]}]}`, "partnr"},
		{"empty category", `{"magnets":[{` + valid + `,"product_categories":["books"," "]}]}`, "product_categories[1]"},
		{"category twice", `{"magnets":[{` + valid + `,"product_categories":["Books","books "]}]}`, "product_categories[1]: \"books\" is listed twice"},
		{"long category", `{"magnets":[{` + valid + `,"product_categories":["` + strings.Repeat("x", 61) + `"]}]}`, "product_categories[0]"},
		{"one purpose id, two partners", `{"magnets":[{` + valid + `,"extra_purposes":[{"id":"p","name":"offers from B Ltd","consent_wording":"Yes, B Ltd may email me","partner":"B Ltd"}]},{` +
			strings.Replace(valid, `"id":"ebook"`, `"id":"other"`, 1) + `,"extra_purposes":[{"id":"p","name":"offers from C Ltd","consent_wording":"Yes, C Ltd may email me","partner":"C Ltd"}]}]}`, "magnets[1] (\"other\"): extra_purposes[0]: purpose marketing:c/p names partner \"C Ltd\""},
		{"privacy contact with a display name", `{"magnets":[{` + valid + `,"privacy_contact":"Data <data@x.example>"}]}`, "privacy_contact"},
		{"privacy contact not an address", `{"magnets":[{` + valid + `,"privacy_contact":"https://x.example/contact"}]}`, "privacy_contact"},
		{"dpo on two lines", `{"magnets":[{` + valid + `,"dpo":"Jane Doe\nBcc: x@y"}]}`, "dpo"},
		{"javascript download", `{"magnets":[{` + strings.Replace(valid, `"https://x.example/f.pdf"`, `"javascript:alert(1)"`, 1) + `}]}`, "download_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.json))
			if err == nil {
				t.Fatalf("Parse: got nil error, want one naming %q", tt.wantField)
			}
			if !strings.Contains(err.Error(), tt.wantField) {
				t.Errorf("Parse error %q does not name %q", err, tt.wantField)
			}
		})
	}
}

func TestAskSubscriberTypeDefaultsToFalse(t *testing.T) {
	valid := `"id":"ebook","title":"T","description":"D","download_url":"https://x.example/f.pdf",` +
		`"sender_name":"S","sender_email":"s@x.example","consent_wording":"W","frequency":"weekly",` +
		`"privacy_policy_url":"https://x.example/p","controller":"C"`
	for _, tt := range []struct {
		extra string
		want  bool
	}{{"", false}, {`,"ask_subscriber_type":false`, false}, {`,"ask_subscriber_type":true`, true}} {
		c, err := Parse([]byte(`{"magnets":[{` + valid + tt.extra + `}]}`))
		if err != nil {
			t.Fatalf("Parse with %q: %v", tt.extra, err)
		}
		if m, _ := c.Get("ebook"); m.AskSubscriberType != tt.want {
			t.Errorf("with %q: AskSubscriberType got %v, want %v", tt.extra, m.AskSubscriberType, tt.want)
		}
	}
}

func TestPrivacyContact(t *testing.T) {
	valid := `"id":"ebook","title":"T","description":"D","download_url":"https://x.example/f.pdf",` +
		`"sender_name":"S","sender_email":"s@x.example","consent_wording":"W","frequency":"weekly",` +
		`"privacy_policy_url":"https://x.example/p","controller":"C"`
	for _, tt := range []struct {
		extra, want, wantDPO string
	}{
		{"", "s@x.example", ""},
		{`,"reply_to":"r@x.example"`, "r@x.example", ""},
		{`,"reply_to":"r@x.example","privacy_contact":" data@x.example ","dpo":" Jane Doe, dpo@x.example "`, "data@x.example", "Jane Doe, dpo@x.example"},
	} {
		c, err := Parse([]byte(`{"magnets":[{` + valid + tt.extra + `}]}`))
		if err != nil {
			t.Fatalf("Parse with %q: %v", tt.extra, err)
		}
		m, _ := c.Get("ebook")
		if got := m.PrivacyContactAddress(); got != tt.want {
			t.Errorf("with %q: PrivacyContactAddress got %q, want %q", tt.extra, got, tt.want)
		}
		if m.DPO != tt.wantDPO {
			t.Errorf("with %q: DPO got %q, want %q (trimmed)", tt.extra, m.DPO, tt.wantDPO)
		}
	}
}

func TestPurposeIDIsControllerWide(t *testing.T) {
	for controller, want := range map[string]string{
		"Acme Ltd":               "marketing:acme-ltd",
		"  Acme   Ltd.  ":        "marketing:acme-ltd",
		"Café Ümlaut & Sons plc": "marketing:café-ümlaut-sons-plc",
		"ACME LTD":               "marketing:acme-ltd",
		"Example Ltd, 1 High Street, London, EC1A 1AA - hello@example.com": "marketing:example-ltd",
	} {
		if got := (Magnet{Controller: controller}).PurposeID(); got != want {
			t.Errorf("PurposeID for controller %q: got %q, want %q", controller, got, want)
		}
	}
	a, b := Magnet{ID: "a", Controller: "Acme Ltd"}, Magnet{ID: "b", Controller: "Acme Ltd"}
	if a.PurposeID() != b.PurposeID() {
		t.Errorf("two magnets of one controller have different purposes: %q, %q", a.PurposeID(), b.PurposeID())
	}
}

func TestNarrowerPurpose(t *testing.T) {
	m := Magnet{Controller: "Acme Ltd, 1 High St", Purpose: &Purpose{ID: "seo-tips", Name: "weekly SEO tips"}}
	if got, want := m.PurposeID(), "marketing:acme-ltd/seo-tips"; got != want {
		t.Errorf("PurposeID: got %q, want %q", got, want)
	}
	if got, want := m.PurposeName(), "weekly SEO tips from Acme Ltd"; got != want {
		t.Errorf("PurposeName: got %q, want %q", got, want)
	}
	for purpose, want := range map[string]bool{
		"marketing:acme-ltd": true, "marketing:acme-ltd/seo-tips": true,
		"marketing:acme-ltd-travel": false, "marketing:acme": false,
	} {
		if got := WithinController(purpose, "marketing:acme-ltd"); got != want {
			t.Errorf("WithinController(%q): got %v, want %v", purpose, got, want)
		}
	}
}

func TestExtraPurposesAndCategories(t *testing.T) {
	base := `"title":"T","description":"D","download_url":"https://x.example/f.pdf",` +
		`"sender_name":"S","sender_email":"s@x.example","consent_wording":"Yes, Acme Ltd may email me","frequency":"weekly",` +
		`"privacy_policy_url":"https://x.example/p","controller":"Acme Ltd, 1 High St"`
	data := `{"magnets":[` +
		`{"id":"tips",` + base + `,"purpose":{"id":"seo-tips","name":"weekly SEO tips"},"product_categories":[" SEO audits ","seo courses"],` +
		`"extra_purposes":[{"id":" books-r-us ","name":" offers from Books R Us Ltd ","consent_wording":" Yes, BOOKS R US LTD may email me book offers. ","partner":" Books R Us Ltd, 2 Low St, Leeds "}]},` +
		`{"id":"guide",` + base + `,"purpose":{"id":"seo-tips","name":"weekly SEO tips"},"product_categories":["seo audits","Rank tracking"],` +
		`"extra_purposes":[{"id":"books-r-us","name":"offers from Books R Us Ltd","consent_wording":"Yes, Books R Us Ltd may email me.","partner":"Books R Us Ltd, 2 Low St, Leeds"},` +
		`{"id":"digest","name":"the monthly digest from Acme Ltd","consent_wording":"Yes, send me the monthly digest"}]}]}`
	c, err := Parse([]byte(data))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	m, _ := c.Get("tips")
	if got, want := m.ProductCategories, []string{"SEO audits", "seo courses"}; !slices.Equal(got, want) {
		t.Errorf("product categories: got %q, want %q (trimmed)", got, want)
	}
	p := m.ExtraPurposes[0]
	if p.ID != "books-r-us" || p.Name != "offers from Books R Us Ltd" || p.Wording != "Yes, BOOKS R US LTD may email me book offers." || p.Partner != "Books R Us Ltd, 2 Low St, Leeds" {
		t.Errorf("extra purpose not trimmed: %+v", p)
	}
	if got, want := m.ExtraPurposeID(p), "marketing:acme-ltd/books-r-us"; got != want {
		t.Errorf("ExtraPurposeID: got %q, want %q", got, want)
	}
	if !WithinController(m.ExtraPurposeID(p), ControllerPurpose(m.Controller)) {
		t.Errorf("an extra purpose is not within its controller: stop-all would miss it")
	}
	if got, ok := m.Extra("books-r-us"); !ok || got != p {
		t.Errorf("Extra(books-r-us): got %+v, %v", got, ok)
	}
	if _, ok := m.Extra("marketing:acme-ltd/books-r-us"); ok {
		t.Errorf("Extra found a full purpose id; it takes the extra's own id")
	}
	want := []PurposeInfo{
		{ID: "marketing:acme-ltd", Name: "marketing email from Acme Ltd", Controller: "marketing:acme-ltd"},
		{ID: "marketing:acme-ltd/seo-tips", Name: "weekly SEO tips from Acme Ltd", Controller: "marketing:acme-ltd", Categories: []string{"SEO audits", "seo courses", "Rank tracking"}},
		{ID: "marketing:acme-ltd/books-r-us", Name: "offers from Books R Us Ltd", Controller: "marketing:acme-ltd", Partner: "Books R Us Ltd, 2 Low St, Leeds"},
		{ID: "marketing:acme-ltd/digest", Name: "the monthly digest from Acme Ltd", Controller: "marketing:acme-ltd"},
	}
	got := c.Purposes()
	if len(got) != len(want) {
		t.Fatalf("Purposes: got %d, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if g, w := got[i], want[i]; g.ID != w.ID || g.Name != w.Name || g.Controller != w.Controller || g.Partner != w.Partner || !slices.Equal(g.Categories, w.Categories) {
			t.Errorf("Purposes()[%d]: got %+v, want %+v", i, g, w)
		}
	}
	if p, ok := c.Purpose("marketing:acme-ltd/seo-tips"); !ok || len(p.Categories) != 3 {
		t.Errorf("Purpose(seo-tips): got %+v, %v", p, ok)
	}
	if _, ok := c.Purpose("marketing:acme-ltd/nope"); ok {
		t.Errorf("Purpose of an unconfigured id: found")
	}
	got[1].Categories[0] = "changed"
	if p, _ := c.Purpose("marketing:acme-ltd/seo-tips"); p.Categories[0] != "SEO audits" {
		t.Errorf("editing Purposes()' result changed the catalog")
	}
}

func TestVagueRecipients(t *testing.T) {
	for wording, want := range map[string]string{
		"Yes, email me offers from selected third parties":                 "selected third parties",
		"Yes, and pass my details to THIRD  PARTIES":                       "third parties",
		"Yes, offers from carefully-selected companies":                    "carefully selected",
		"Yes, our partners may email me":                                   "our partners",
		"Yes, Acme Ltd's trusted partners may email me":                    "trusted partners",
		"Yes, Books R Us Ltd may email me":                                 "",
		"Yes, email me. We never share your details with third parties.":   "",
		"We will not sell to third parties, but our partners may email me": "our partners",
		"Yes, your partners' offers... no: Yours partnership Ltd":          "",
	} {
		if got := vagueRecipients(wording); got != want {
			t.Errorf("vagueRecipients(%q): got %q, want %q", wording, got, want)
		}
	}
}

func TestLocalOnlyLinks(t *testing.T) {
	const valid = `"id":"ebook","title":"T","description":"D","download_url":"https://x.example/f.pdf",` +
		`"sender_name":"S","sender_email":"s@x.example","consent_wording":"W","frequency":"weekly",` +
		`"privacy_policy_url":"https://x.example/p","controller":"C"`
	c, err := Parse([]byte(`{"magnets":[{` + valid + `}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.LocalOnlyLinks(); err != nil {
		t.Errorf("a catalog with real links: %v", err)
	}
	local := strings.Replace(valid, `"download_url":"https://x.example/f.pdf"`, `"download_url":"/_local/files/f.pdf"`, 1)
	if local == valid {
		t.Fatal("test catalog has no download_url to replace")
	}
	c, err = Parse([]byte(`{"magnets":[{` + local + `}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.LocalOnlyLinks(); err == nil || !strings.Contains(err.Error(), "download_url") || !strings.Contains(err.Error(), `magnets[0] ("`) {
		t.Errorf("a sample link: got %v, want an error naming the magnet and download_url", err)
	}
}
