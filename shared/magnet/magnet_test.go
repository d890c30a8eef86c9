package magnet

import (
	"os"
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
