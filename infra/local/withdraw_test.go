package main_test

import (
	"net/url"
	"strings"
	"sync"
	"testing"
)

func unsubscribePathOf(t *testing.T, s *server, m mail) string {
	t.Helper()
	link := strings.Trim(m.Headers["List-Unsubscribe"], "<>")
	if !strings.HasPrefix(link, s.base+"/unsubscribe?t=") {
		t.Fatalf("List-Unsubscribe %q", m.Headers["List-Unsubscribe"])
	}
	return strings.TrimPrefix(link, s.base)
}

// TestConcurrentOneClickReplays: ten simultaneous one-click POSTs (as a mail
// provider retrying) all get 200, and the ledger gains exactly one event.
func TestConcurrentOneClickReplays(t *testing.T) {
	s := start(t, t.TempDir())
	s.do(t, "POST", "/signup", formType, "email=dan%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
	path := unsubscribePathOf(t, s, s.mailbox(t)[0])

	var wg sync.WaitGroup
	codes := make(chan int, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := s.do(t, "POST", path, formType, "List-Unsubscribe=One-Click")
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != 200 {
			t.Errorf("one-click replay: status %d, want 200", code)
		}
	}
	if got := types(s.ledger(t, "dan@example.com")); got != "signup,granted,withdrawn" {
		t.Errorf("ledger after 10 concurrent replays: %s, want exactly one withdrawn", got)
	}
}

// TestSelfServiceWithdrawal: someone who lost the email asks for a link,
// receives it in the mailbox, and withdraws through it.
func TestSelfServiceWithdrawal(t *testing.T) {
	s := start(t, t.TempDir())
	s.do(t, "POST", "/signup", formType, "email=erin%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
	s.do(t, "POST", "/signup", formType, "email=frank%40example.com&magnet=uk-gdpr-checklist")

	_, subscribed := s.do(t, "POST", "/withdraw", formType, "email="+url.QueryEscape("erin@example.com"))
	_, notSubscribed := s.do(t, "POST", "/withdraw", formType, "email="+url.QueryEscape("frank@example.com"))
	_, unknown := s.do(t, "POST", "/withdraw", formType, "email="+url.QueryEscape("nobody@example.com"))
	_, repeated := s.do(t, "POST", "/withdraw", formType, "email="+url.QueryEscape("erin@example.com"))
	if subscribed != notSubscribed || subscribed != unknown || subscribed != repeated {
		t.Errorf("the /withdraw answer differs between addresses")
	}

	box := s.mailbox(t)
	if len(box) != 3 {
		t.Fatalf("mailbox: %d messages, want 2 freebies + 1 withdrawal link", len(box))
	}
	// The outbox sends in parallel: find the link by its subject, not its
	// place in the mailbox.
	var links []mail
	for _, m := range box {
		if strings.Contains(m.Subject, "unsubscribe link") {
			links = append(links, m)
		}
	}
	if len(links) != 1 || links[0].To[0] != "erin@example.com" {
		t.Fatalf("withdrawal link mails: %+v, want one, to erin@example.com", links)
	}
	link := links[0]
	i := strings.Index(link.Text, s.base+"/unsubscribe?t=")
	if i < 0 {
		t.Fatalf("withdrawal mail has no unsubscribe link:\n%s", link.Text)
	}
	path := strings.TrimPrefix(strings.Fields(link.Text[i:])[0], s.base)

	resp, page := s.do(t, "GET", path, "", "")
	if resp.StatusCode != 200 || !strings.Contains(page, "e•••@e•••.com") {
		t.Fatalf("unsubscribe page: %d", resp.StatusCode)
	}
	if got := types(s.ledger(t, "erin@example.com")); got != "signup,granted" {
		t.Fatalf("GET changed the ledger: %s", got)
	}
	resp, page = s.do(t, "POST", path, formType, "confirm=yes")
	if resp.StatusCode != 200 || !strings.Contains(page, "You are unsubscribed") {
		t.Fatalf("unsubscribe POST: %d", resp.StatusCode)
	}
	events := s.ledger(t, "erin@example.com")
	if got := types(events); got != "signup,granted,withdrawn" || events[2].Method != "unsubscribe-page" {
		t.Errorf("ledger after self-service withdrawal: %s via %s", got, events[len(events)-1].Method)
	}

	// Asking for the freebie again still delivers it, without marketing.
	s.do(t, "POST", "/signup", formType, "email=erin%40example.com&magnet=uk-gdpr-checklist")
	box = s.mailbox(t)
	last := box[len(box)-1]
	if last.To[0] != "erin@example.com" || !strings.HasPrefix(last.Subject, "Your download") {
		t.Fatalf("freebie after withdrawal not delivered")
	}
	if _, ok := last.Headers["List-Unsubscribe"]; ok {
		t.Errorf("freebie after withdrawal carries list headers")
	}
}
