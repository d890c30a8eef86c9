package main_test

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

type status struct {
	Magnet   string `json:"magnet"`
	State    string `json:"state"`
	Eligible bool   `json:"eligible"`
	Reason   string `json:"reason"`
}

func (s *server) status(t *testing.T, email string) status {
	t.Helper()
	_, body := s.do(t, "GET", "/_local/status.json?email="+url.QueryEscape(email), "", "")
	var got []status
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 1 {
		t.Fatalf("status.json: %v: %s", err, body)
	}
	return got[0]
}

// linkPath returns the path and query of the first link to path in text.
func linkPath(t *testing.T, s *server, text, path string) string {
	t.Helper()
	i := strings.Index(text, s.base+path+"?t=")
	if i < 0 {
		t.Fatalf("no %s link in:\n%s", path, text)
	}
	return strings.TrimPrefix(strings.Fields(text[i:])[0], s.base)
}

var versionField = regexp.MustCompile(`name="consent_version" value="(w[0-9a-f]{32})"`)

func TestDoubleOptInThroughTheLocalServer(t *testing.T) {
	s := start(t, t.TempDir())
	_, page := s.do(t, "GET", "/", "", "")
	m := versionField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("landing page has no consent_version field")
	}
	version := m[1]
	resp, _ := s.do(t, "POST", "/signup", formType, "email=gina%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes&consent_version="+version)
	if resp.StatusCode != 303 {
		t.Fatalf("sign-up: %d", resp.StatusCode)
	}
	if st := s.status(t, "gina@example.com"); st.State != "awaiting-confirmation" || st.Eligible || !strings.HasPrefix(st.Reason, "awaiting confirmation since ") {
		t.Fatalf("before confirming: %+v", st)
	}
	events := s.ledger(t, "gina@example.com")
	var granted struct {
		WordingVersion string `json:"wording_version"`
	}
	_, raw := s.do(t, "GET", "/_local/ledger.json?email=gina%40example.com", "", "")
	var all []json.RawMessage
	_ = json.Unmarshal([]byte(raw), &all)
	_ = json.Unmarshal(all[1], &granted)
	if granted.WordingVersion != version {
		t.Errorf("granted wording_version %q, want the form's %q", granted.WordingVersion, version)
	}

	freebie := s.mailbox(t)[0]
	confirm := linkPath(t, s, freebie.Text, "/confirm")
	for _, method := range []string{"GET", "HEAD", "OPTIONS"} {
		if resp, _ := s.do(t, method, confirm, "", ""); resp.StatusCode >= 400 {
			t.Errorf("%s confirm link: %d", method, resp.StatusCode)
		}
	}
	if got := types(s.ledger(t, "gina@example.com")); got != types(events) {
		t.Fatalf("GET/HEAD/OPTIONS changed the ledger: %s", got)
	}
	for range 2 {
		if resp, body := s.do(t, "POST", confirm, formType, "confirm=yes"); resp.StatusCode != 200 || !strings.Contains(body, "you are subscribed") {
			t.Fatalf("confirm POST: %d", resp.StatusCode)
		}
	}
	if got := types(s.ledger(t, "gina@example.com")); got != "signup,granted,confirmed" {
		t.Fatalf("ledger after confirming twice: %s", got)
	}
	if st := s.status(t, "gina@example.com"); !st.Eligible || !strings.Contains(st.Reason, "confirmed on") {
		t.Errorf("after confirming: %+v", st)
	}
	box := s.mailbox(t)
	if len(box) != 2 || !strings.HasPrefix(box[1].Subject, "Your consent receipt") {
		t.Fatalf("mailbox: %d messages, want freebie + one receipt", len(box))
	}
	if !strings.Contains(box[1].Text, "Yes, Example Ltd may email me tips and offers about growing a small business. I can unsubscribe at any time.") {
		t.Errorf("receipt lacks the exact archived wording:\n%s", box[1].Text)
	}
	if resp, _ := s.do(t, "GET", "/_local/ledger?email=gina%40example.com", "", ""); resp.StatusCode != 200 {
		t.Errorf("ledger page: %d", resp.StatusCode)
	}
}

func TestWordingChangeKeepsOldVersions(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	s.do(t, "POST", "/signup", formType, "email=hal%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
	confirmOld := linkPath(t, s, s.mailbox(t)[0].Text, "/confirm")
	_, page := s.do(t, "GET", "/", "", "")
	oldVersion := versionField.FindStringSubmatch(page)[1]
	s.stop()

	// The business edits its wording and restarts.
	data, err := os.ReadFile("magnets.json")
	if err != nil {
		t.Fatal(err)
	}
	const newWording = "Yes, Example Ltd may send me its monthly newsletter."
	edited := strings.Replace(string(data), "Yes, Example Ltd may email me tips and offers about growing a small business. I can unsubscribe at any time.", newWording, 1)
	magnets := filepath.Join(t.TempDir(), "magnets.json")
	if err := os.WriteFile(magnets, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	s2 := start(t, dir, "-magnets", magnets)
	_, page = s2.do(t, "GET", "/", "", "")
	newVersion := versionField.FindStringSubmatch(page)[1]
	if newVersion == oldVersion || !strings.Contains(page, newWording) {
		t.Fatalf("changed wording: version %s (old %s)", newVersion, oldVersion)
	}
	// The earlier sign-up's confirm page still shows what that person saw.
	if _, body := s2.do(t, "GET", confirmOld, "", ""); !strings.Contains(body, "about growing a small business") || strings.Contains(body, newWording) {
		t.Errorf("old confirm link does not show the old archived wording")
	}
	// A page rendered before the change still records the old wording.
	s2.do(t, "POST", "/signup", formType, "email=ida%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes&consent_version="+oldVersion)
	if ev := s2.ledger(t, "ida@example.com")[1]; !strings.Contains(ev.Wording, "about growing a small business") {
		t.Errorf("old-form sign-up recorded %q", ev.Wording)
	}
	s2.do(t, "POST", "/signup", formType, "email=jo%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
	if ev := s2.ledger(t, "jo@example.com")[1]; ev.Wording != newWording {
		t.Errorf("new sign-up recorded %q, want the new wording", ev.Wording)
	}
	// Tampered or unknown versions are refused, nothing stored.
	resp, _ := s2.do(t, "POST", "/signup", formType, "email=kim%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes&consent_version=w00000000000000000000000000000000")
	if resp.StatusCode != 400 || len(s2.ledger(t, "kim@example.com")) != 0 {
		t.Errorf("unknown version: %d and stored %d events", resp.StatusCode, len(s2.ledger(t, "kim@example.com")))
	}
}
