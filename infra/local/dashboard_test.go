package main_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// counts is one magnet's figures in /_local/dashboard.json.
type counts struct {
	Signups, Ticked, ToConfirm, Confirmed                int
	WithdrawnOneClick, WithdrawnPage, WithdrawnComplaint int
	Bounced                                              int
	FreebiesSent, FreebiesFailed, FreebiesLimited        int
	RateLimited, BotTrapped                              int
}

type dashboardJSON struct {
	From, To string
	Magnets  []struct {
		Magnet     string
		Configured bool
		Total      counts
		Days       []struct {
			Day string
			counts
		}
	}
}

// Real sign-ups, a confirmation, a one-click unsubscribe, a bot and a
// source over its limit, through the server process: the dashboard shows
// each of them, as JSON and as a page of tables and charts.
func TestLocalDashboard(t *testing.T) {
	s := start(t, t.TempDir(), "-limits", "on", "-signups-per-source", "6", "-emails-per-address", "0")
	post := func(body string, want int) {
		t.Helper()
		if resp, page := s.do(t, "POST", "/signup", formType, body); resp.StatusCode != want {
			t.Fatalf("POST /signup %s: %d, want %d\n%s", body, resp.StatusCode, want, page)
		}
	}
	post("email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes", http.StatusSeeOther)
	post("email=bob%40example.com&magnet=uk-gdpr-checklist", http.StatusSeeOther)
	post("email=cat%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes", http.StatusSeeOther)
	post("email=bot%40example.com&magnet=uk-gdpr-checklist&website=https%3A%2F%2Fspam.example", http.StatusSeeOther) // trapped
	post("email=dan%40example.com&magnet=uk-gdpr-checklist", http.StatusSeeOther)
	post("email=eve%40example.com&magnet=uk-gdpr-checklist", http.StatusSeeOther)
	post("email=fay%40example.com&magnet=uk-gdpr-checklist", http.StatusTooManyRequests) // the source's 7th post

	var ann mail
	for _, m := range s.mailbox(t) {
		if m.To[0] == "ann@example.com" {
			ann = m
		}
	}
	if resp, _ := s.do(t, "POST", linkPath(t, s, ann.Text, "/confirm"), formType, "confirm=yes"); resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %d", resp.StatusCode)
	}
	unsubscribe := strings.TrimPrefix(strings.Trim(ann.Headers["List-Unsubscribe"], "<>"), s.base)
	if resp, _ := s.do(t, "POST", unsubscribe, formType, "List-Unsubscribe=One-Click"); resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click unsubscribe: %d", resp.StatusCode)
	}
	s.waitOutbox(t)

	resp, body := s.do(t, "GET", "/_local/dashboard.json", "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("dashboard.json: %d %s", resp.StatusCode, body)
	}
	var d dashboardJSON
	if err := json.Unmarshal([]byte(body), &d); err != nil || len(d.Magnets) != 1 {
		t.Fatalf("dashboard.json: %v, want one magnet:\n%s", err, body)
	}
	m := d.Magnets[0]
	want := counts{Signups: 5, Ticked: 2, ToConfirm: 2, Confirmed: 1, WithdrawnOneClick: 1, FreebiesSent: 5, RateLimited: 1, BotTrapped: 1}
	if m.Magnet != "uk-gdpr-checklist" || !m.Configured || m.Total != want {
		t.Errorf("dashboard.json for %s (configured %v):\n got %+v\nwant %+v", m.Magnet, m.Configured, m.Total, want)
	}
	if len(m.Days) == 0 || m.Days[len(m.Days)-1].Day != d.To {
		t.Errorf("dashboard.json days %+v: want today (%s) last", m.Days, d.To)
	}

	resp, page := s.do(t, "GET", "/_local/dashboard", "", "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("dashboard: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// Today's row (or two rows, if the test ran across midnight UTC): the
	// figures in the table's column order.
	total := `<tr><th scope="row">Total</th><td>5</td><td>2</td><td>40%</td><td>2</td><td>1</td><td>50%</td><td>1</td><td>0</td><td>0</td><td>0</td><td>5</td><td>0</td><td>0</td><td>1</td><td>1</td></tr>`
	if !strings.Contains(page, total) {
		t.Errorf("dashboard page lacks the total row %s:\n%s", total, page)
	}
	for _, want := range []string{
		`<caption id="summary-caption">`, `<th scope="col">% confirmed</th>`,
		`role="img" aria-labelledby="m0-signups-svgtitle m0-signups-desc"`,
		`<title id="m0-signups-svgtitle">Sign-ups per day, and how many ticked a box</title>`,
		`sign-ups: 5 in total. ticked a box: 2 in total.</desc>`,
		`: 5 sign-ups</title></rect>`, `: 1 one-click</title></rect>`, `: 1 bot-trapped</title></rect>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("dashboard page lacks %s", want)
		}
	}
	if strings.Contains(page, "<script") || regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(page) {
		t.Errorf("dashboard page has a script or loads something from elsewhere")
	}
	for _, secret := range []string{"ann@", "example.com", "127.0.0.1"} {
		if strings.Contains(page, secret) || strings.Contains(body, secret) {
			t.Errorf("dashboard shows %q: it holds counts only", secret)
		}
	}
	if resp, _ := s.do(t, "GET", "/_local/dashboard?days=7", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("dashboard?days=7: %d", resp.StatusCode)
	}
}
