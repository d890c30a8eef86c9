package main_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// requestPrivacyLink posts the /privacy form and returns the link the
// address is then emailed (the newest mail, which must be to it).
func requestPrivacyLink(t *testing.T, s *server, email, kind, subject string) string {
	t.Helper()
	resp, page := s.do(t, "POST", "/privacy", formType, "email="+url.QueryEscape(email)+"&request="+kind)
	if resp.StatusCode != 200 || !strings.Contains(page, "If we hold data for that address") {
		t.Fatalf("POST /privacy %s: %d\n%s", kind, resp.StatusCode, page)
	}
	box := s.mailbox(t)
	last := box[len(box)-1]
	if last.To[0] != email || !strings.HasPrefix(last.Subject, subject) {
		t.Fatalf("newest mail: to %v, subject %q; want to %s, %q…", last.To, last.Subject, email, subject)
	}
	return linkPath(t, s, last.Text, "/privacy/confirm")
}

// TestSelfServicePrivacyRequests: a person asks for a copy of their data
// and gets it through the emailed link (page and JSON download), then asks
// for it to be deleted and deletes it; afterwards nothing is held, the
// operator's may-email says erased, and a fresh sign-up starts a new
// history.
func TestSelfServicePrivacyRequests(t *testing.T) {
	s := start(t, t.TempDir())
	const email = "gail@example.com"
	if resp, _ := s.do(t, "POST", "/signup", formType, "email=gail%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes"); resp.StatusCode != 303 {
		t.Fatalf("sign-up: %d", resp.StatusCode)
	}

	// The request form, then the same answer for an address we do not know.
	if resp, page := s.do(t, "GET", "/privacy", "", ""); resp.StatusCode != 200 || !strings.Contains(page, `value="erase"`) {
		t.Fatalf("GET /privacy: %d", resp.StatusCode)
	}
	mailsBefore := len(s.mailbox(t))
	_, unknown := s.do(t, "POST", "/privacy", formType, "email=nobody%40example.com&request=export")

	// Send me my data.
	link := requestPrivacyLink(t, s, email, "export", "Your link to see the data")
	_, known := s.do(t, "POST", "/privacy", formType, "email=gail%40example.com&request=export")
	if known != unknown {
		t.Errorf("the /privacy answer differs between a known and an unknown address")
	}
	if got := len(s.mailbox(t)) - mailsBefore; got != 1 {
		t.Errorf("mails after requests for an unknown address, gail and gail again: %d, want 1", got)
	}
	resp, page := s.do(t, "GET", link, "", "")
	if resp.StatusCode != 200 || !strings.Contains(page, "Show my data") || !strings.Contains(page, "g•••@e•••.com") {
		t.Fatalf("export link page: %d\n%s", resp.StatusCode, page)
	}
	if got := types(s.ledger(t, email)); got != "signup,granted" {
		t.Fatalf("GET of the link changed the ledger: %s", got)
	}
	resp, page = s.do(t, "POST", link, formType, "confirm=yes")
	for _, want := range []string{email, "You asked for “The UK GDPR Lead-Magnet Checklist”", "You ticked the box for", "Email with your download (sent)", "Download as JSON"} {
		if resp.StatusCode != 200 || !strings.Contains(page, want) {
			t.Errorf("data page: %d, lacks %q", resp.StatusCode, want)
		}
	}
	resp, body := s.do(t, "POST", link, formType, "confirm=yes&format=json")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("JSON download: %d, Content-Disposition %q", resp.StatusCode, resp.Header.Get("Content-Disposition"))
	}
	var export struct {
		Email  string  `json:"email"`
		Events []event `json:"events"`
	}
	if err := json.Unmarshal([]byte(body), &export); err != nil {
		t.Fatalf("JSON download: %v\n%s", err, body)
	}
	if export.Email != email || types(export.Events) != "signup,granted" || export.Events[0].SourceIP == "" {
		t.Errorf("JSON download: %s with %s, want %s with signup,granted and their evidence", export.Email, types(export.Events), email)
	}

	// Delete my data.
	eraseLink := requestPrivacyLink(t, s, email, "erase", "Your link to delete the data")
	if resp, page := s.do(t, "GET", eraseLink, "", ""); resp.StatusCode != 200 || !strings.Contains(page, "Delete my data") {
		t.Fatalf("erase link page: %d\n%s", resp.StatusCode, page)
	}
	if got := types(s.ledger(t, email)); got != "signup,granted" {
		t.Fatalf("GET of the erase link changed the ledger: %s", got)
	}
	if resp, page := s.do(t, "POST", eraseLink, formType, "confirm=yes"); resp.StatusCode != 200 || !strings.Contains(page, "Your data is deleted") {
		t.Fatalf("erase: %d\n%s", resp.StatusCode, page)
	}
	if got := s.ledger(t, email); len(got) != 0 {
		t.Errorf("ledger after erasure: %s, want empty", types(got))
	}
	req, _ := json.Marshal(map[string]any{"addresses": []string{email}})
	_, out := s.do(t, "POST", "/admin/may-email", "application/json", string(req))
	var answer struct{ Decisions []decision }
	if err := json.Unmarshal([]byte(out), &answer); err != nil || len(answer.Decisions) != 1 || answer.Decisions[0].Allowed || !strings.Contains(answer.Decisions[0].Reason, "erased") {
		t.Errorf("may-email after erasure: %s, want not allowed, erased", out)
	}
	for _, l := range []string{eraseLink, link} {
		if resp, page := s.do(t, "POST", l, formType, "confirm=yes"); resp.StatusCode != 200 || !strings.Contains(page, "We hold no data for this link") {
			t.Errorf("a link after erasure: %d\n%s", resp.StatusCode, page)
		}
	}
	mailsBefore = len(s.mailbox(t))
	if resp, page := s.do(t, "POST", "/privacy", formType, "email=gail%40example.com&request=export"); resp.StatusCode != 200 || page != known {
		t.Errorf("a request after erasure: %d, answered differently", resp.StatusCode)
	}
	if got := len(s.mailbox(t)) - mailsBefore; got != 0 {
		t.Errorf("mails after the erasure: %d, want 0", got)
	}

	// A fresh sign-up works and starts a new history, which the old link
	// cannot reach.
	if resp, _ := s.do(t, "POST", "/signup", formType, "email=gail%40example.com&magnet=uk-gdpr-checklist"); resp.StatusCode != 303 {
		t.Fatalf("sign-up after erasure: %d", resp.StatusCode)
	}
	box := s.mailbox(t)
	if last := box[len(box)-1]; last.To[0] != email || !strings.HasPrefix(last.Subject, "Your download") {
		t.Errorf("no freebie after the fresh sign-up: newest mail %q to %v", last.Subject, last.To)
	}
	if got := types(s.ledger(t, email)); got != "signup" {
		t.Errorf("ledger after the fresh sign-up: %s, want signup", got)
	}
	if resp, page := s.do(t, "POST", eraseLink, formType, "confirm=yes"); resp.StatusCode != 200 || !strings.Contains(page, "We hold no data for this link") {
		t.Errorf("the old erase link after a fresh sign-up: %d\n%s", resp.StatusCode, page)
	}
	if got := types(s.ledger(t, email)); got != "signup" {
		t.Errorf("the old erase link changed the new history: %s", got)
	}
}
