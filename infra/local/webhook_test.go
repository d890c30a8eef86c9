package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/webhook"
)

// TestWebhookHearsOfLeavers runs the local server with -webhook-url pointed
// at a receiver on loopback that fails its first delivery: the one-click
// unsubscribe still answers at once, and the receiver gets one signed
// notification it can verify with the secret in the data directory.
func TestWebhookHearsOfLeavers(t *testing.T) {
	type delivery struct {
		header http.Header
		body   []byte
	}
	var (
		mu    sync.Mutex
		calls int
		got   []delivery
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		got = append(got, delivery{r.Header.Clone(), body})
	}))
	defer receiver.Close()

	dir := t.TempDir()
	s := start(t, dir, "-webhook-url", receiver.URL+"/hook")
	if resp, out := s.do(t, "POST", "/signup", "application/x-www-form-urlencoded",
		"email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes"); resp.StatusCode != 303 {
		t.Fatalf("sign-up: %d %s", resp.StatusCode, out)
	}
	box := s.mailbox(t)
	if len(box) != 1 {
		t.Fatalf("mailbox: %d messages, want 1", len(box))
	}
	link := strings.Trim(box[0].Headers["List-Unsubscribe"], "<>")
	if resp, out := s.do(t, "POST", strings.TrimPrefix(link, s.base), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"); resp.StatusCode != 200 {
		t.Fatalf("one-click: %d %s", resp.StatusCode, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("deliveries after a failed first try: got %d, want 1 (retried, once)", len(got))
	}
	secret, err := os.ReadFile(filepath.Join(dir, "webhook-secret"))
	if err != nil {
		t.Fatal(err)
	}
	d := got[0]
	if err := webhook.Verify([]byte(strings.TrimSpace(string(secret))), d.header.Get("Webhook-Id"), d.header.Get("Webhook-Timestamp"), d.header.Get("Webhook-Signature"), d.body, time.Now(), 5*time.Minute); err != nil {
		t.Errorf("verify with the data directory's secret: %v", err)
	}
	var n struct{ ID, Type, Email, Purpose, Method string }
	if err := json.Unmarshal(d.body, &n); err != nil {
		t.Fatal(err)
	}
	if n.Type != "withdrawn" || n.Email != "ann@example.com" || n.Method != "one-click" || n.Purpose != "marketing:example-ltd" || n.ID != d.header.Get("Webhook-Id") {
		t.Errorf("notification: got %+v", n)
	}
}
