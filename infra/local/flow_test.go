package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/web"
)

// These tests run the real local server binary on a free loopback port and
// drive it over HTTP, as a newcomer's browser would.

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "unbundled-local")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "local")
	if out, err := exec.Command("go", "build", "-race", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build local server: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type server struct {
	base string
	cmd  *exec.Cmd
}

// start runs the server with dataDir on a port the kernel picks (-addr
// 127.0.0.1:0, so no two tests race for one) and waits until it prints the
// URL it listens at. Extra flags come last, so they override the defaults
// given here. The server's log goes to the test's stderr.
func start(t *testing.T, dataDir string, extra ...string) *server {
	t.Helper()
	return startLogging(t, dataDir, os.Stderr, extra...)
}

// startLogging is start with the server's log (its stderr) written to log.
func startLogging(t *testing.T, dataDir string, log io.Writer, extra ...string) *server {
	t.Helper()
	// Flows are tested without limits or time-trap (the attack tests turn
	// them on); later flags in extra win.
	args := append([]string{"-addr", "127.0.0.1:0", "-data", dataDir, "-magnets", "magnets.json", "-limits", "off", "-form-min-age", "0"}, extra...)
	cmd := exec.Command(binary, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd}
	t.Cleanup(s.stop)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if url, ok := strings.CutPrefix(sc.Text(), "unbundled is running at "); ok {
				ready <- strings.TrimSpace(url)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case s.base = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("local server did not start within 30s")
	}
	return s
}

func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

var client = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func (s *server) do(t *testing.T, method, path, contentType, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

type mail struct {
	ID      string            `json:"id"`
	From    string            `json:"from"`
	To      []string          `json:"to"`
	Subject string            `json:"subject"`
	Headers map[string]string `json:"headers"`
	Text    string            `json:"text"`
	HTML    string            `json:"html"`
	SentAt  time.Time         `json:"sent_at"`
}

type event struct {
	Type      string    `json:"type"`
	At        time.Time `json:"at"`
	Magnet    string    `json:"magnet"`
	Email     string    `json:"email"`
	Method    string    `json:"method"`
	Wording   string    `json:"wording"`
	Frequency string    `json:"frequency"`
	Policy    string    `json:"privacy_policy_url"`
	SourceIP  string    `json:"source_ip"`
	UserAgent string    `json:"user_agent"`
	RequestID string    `json:"request_id"`
}

// mailbox waits until the outbox has nothing left to send, then returns
// the local mailbox, newest last.
func (s *server) mailbox(t *testing.T) []mail {
	t.Helper()
	s.waitOutbox(t)
	_, body := s.do(t, "GET", "/_local/mailbox.json", "", "")
	var got []mail
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("mailbox.json: %v: %s", err, body)
	}
	return got
}

// waitOutbox waits up to 30s for every queued delivery job to be sent.
func (s *server) waitOutbox(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := s.do(t, "GET", "/_local/outbox.json", "", "")
		var got struct{ Due int }
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("outbox.json: %v: %s", err, body)
		}
		if got.Due == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox still has %d jobs after 30s", got.Due)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) ledger(t *testing.T, email string) []event {
	t.Helper()
	resp, body := s.do(t, "GET", "/_local/ledger.json?email="+url.QueryEscape(email), "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ledger.json: %d %s", resp.StatusCode, body)
	}
	var got []event
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("ledger.json: %v: %s", err, body)
	}
	return got
}

func types(events []event) string {
	var s []string
	for _, e := range events {
		s = append(s, e.Type)
	}
	return strings.Join(s, ",")
}

const formType = "application/x-www-form-urlencoded"

func TestLocalServerFlow(t *testing.T) {
	s := start(t, t.TempDir())

	resp, page := s.do(t, "GET", "/", "", "")
	if resp.StatusCode != 200 || !strings.Contains(page, `type="checkbox" id="consent-uk-gdpr-checklist" name="marketing_consent" value="yes">`) {
		t.Fatalf("landing page: %d, want the unticked checkbox:\n%s", resp.StatusCode, page)
	}
	if strings.Contains(page, "checked") {
		t.Errorf("landing page has a pre-ticked box")
	}

	// With the box ticked.
	resp, _ = s.do(t, "POST", "/signup", formType, "email=Ann%40Example.com&name=Ann&magnet=uk-gdpr-checklist&marketing_consent=yes")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("ticked sign-up: status %d, want 303", resp.StatusCode)
	}
	box := s.mailbox(t)
	if len(box) != 1 {
		t.Fatalf("mailbox has %d messages, want 1", len(box))
	}
	m := box[0]
	if len(m.To) != 1 || m.To[0] != "ann@example.com" || !strings.Contains(m.From, "hello@example.com") {
		t.Errorf("freebie addressed from %q to %v", m.From, m.To)
	}
	if m.Headers["List-Unsubscribe-Post"] != "List-Unsubscribe=One-Click" || !strings.HasPrefix(m.Headers["List-Unsubscribe"], "<"+s.base+"/unsubscribe?t=") {
		t.Errorf("list headers: %v", m.Headers)
	}
	download := s.base + "/_local/files/uk-gdpr-checklist.txt"
	if !strings.Contains(m.Text, download) || !strings.Contains(m.HTML, download) {
		t.Errorf("freebie lacks the download link %s", download)
	}
	if resp, body := s.do(t, "GET", strings.TrimPrefix(download, s.base), "", ""); resp.StatusCode != 200 || !strings.Contains(body, "CHECKLIST") {
		t.Errorf("download link: %d", resp.StatusCode)
	}

	events := s.ledger(t, "ann@example.com")
	if got, want := types(events), "signup,granted"; got != want {
		t.Fatalf("ledger: got %s, want %s", got, want)
	}
	g := events[1]
	if g.Method != "checkbox" || g.Frequency != "monthly" || !strings.HasPrefix(g.Wording, "Yes, Example Ltd may email me") ||
		g.Policy != "https://example.com/privacy" || g.SourceIP != "127.0.0.1" || g.UserAgent == "" || g.RequestID == "" || g.At.IsZero() {
		t.Errorf("granted evidence incomplete: %+v", g)
	}

	// Without the box: a freebie, no list headers, no granted event.
	resp, _ = s.do(t, "POST", "/signup", formType, "email=bob%40example.com&magnet=uk-gdpr-checklist")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("unticked sign-up: status %d, want 303", resp.StatusCode)
	}
	box = s.mailbox(t)
	if len(box) != 2 || box[1].To[0] != "bob@example.com" {
		t.Fatalf("mailbox after unticked sign-up: %d messages", len(box))
	}
	if _, ok := box[1].Headers["List-Unsubscribe"]; ok {
		t.Errorf("unticked sign-up got List-Unsubscribe")
	}
	if _, ok := box[1].Headers["List-Unsubscribe-Post"]; ok {
		t.Errorf("unticked sign-up got List-Unsubscribe-Post")
	}
	if got := types(s.ledger(t, "bob@example.com")); got != "signup" {
		t.Errorf("unticked ledger: got %s, want signup", got)
	}

	// Unsubscribe: GET changes nothing, one-click POST withdraws with 200.
	unsub := strings.TrimPrefix(strings.Trim(box[0].Headers["List-Unsubscribe"], "<>"), s.base)
	for _, method := range []string{"GET", "HEAD"} {
		if resp, _ := s.do(t, method, unsub, "", ""); resp.StatusCode != 200 {
			t.Errorf("%s unsubscribe: %d", method, resp.StatusCode)
		}
	}
	if got := types(s.ledger(t, "ann@example.com")); got != "signup,granted" {
		t.Fatalf("after GET/HEAD: ledger %s, want unchanged", got)
	}
	resp, _ = s.do(t, "POST", unsub, formType, "List-Unsubscribe=One-Click")
	if resp.StatusCode != 200 {
		t.Fatalf("one-click POST: %d, want 200", resp.StatusCode)
	}
	events = s.ledger(t, "ann@example.com")
	if got := types(events); got != "signup,granted,withdrawn" {
		t.Fatalf("after one-click: ledger %s", got)
	}
	if events[2].Method != "one-click" {
		t.Errorf("withdrawn method: %q", events[2].Method)
	}

	// Bad input: 400, nothing stored or sent.
	resp, body := s.do(t, "POST", "/signup", "application/json", `{"email":"not-an-address","magnet":"uk-gdpr-checklist"}`)
	if resp.StatusCode != 400 || !strings.Contains(body, `"email"`) {
		t.Errorf("bad email: %d %s", resp.StatusCode, body)
	}
	if got := len(s.mailbox(t)); got != 2 {
		t.Errorf("bad input sent mail: mailbox has %d", got)
	}

	// The mailbox page lists the messages.
	if resp, body := s.do(t, "GET", "/_local/mailbox", "", ""); resp.StatusCode != 200 || !strings.Contains(body, "Your download") {
		t.Errorf("mailbox page: %d", resp.StatusCode)
	}
}

func TestLocalServerKeepsDataAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	s.do(t, "POST", "/signup", formType, "email=carol%40example.com&magnet=uk-gdpr-checklist&marketing_consent=on")
	unsub := strings.TrimPrefix(strings.Trim(s.mailbox(t)[0].Headers["List-Unsubscribe"], "<>"), s.base)
	s.stop()

	s2 := start(t, dir)
	if got := types(s2.ledger(t, "carol@example.com")); got != "signup,granted" {
		t.Fatalf("ledger after restart: %s", got)
	}
	if got := len(s2.mailbox(t)); got != 1 {
		t.Fatalf("mailbox after restart: %d messages, want 1", got)
	}
	// Links sent before the restart still work: the keys persisted too.
	if resp, _ := s2.do(t, "GET", unsub, "", ""); resp.StatusCode != 200 {
		t.Errorf("old unsubscribe link after restart: %d", resp.StatusCode)
	}
}

func TestLocalServerServesEveryPublicRoute(t *testing.T) {
	s := start(t, t.TempDir())
	for _, r := range web.Routes() {
		if resp, _ := s.do(t, r.Method, r.Path, "", ""); resp.StatusCode == 404 || resp.StatusCode == 405 {
			t.Errorf("%s %s: %d", r.Method, r.Path, resp.StatusCode)
		}
	}
}
