package main_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/sqlitestore"
	"github.com/unbundled/unbundled/shared/token"
)

// syncBuffer is a log the server writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestServerAppliesRetention: the local server applies the retention
// policy on its own schedule (-retention-every) — a freebie-only sign-up
// older than the unconfirmed period goes, a recent one stays with its
// evidence, and the log says so in counts, never with an address.
func TestServerAppliesRetention(t *testing.T) {
	dir := t.TempDir()
	keys, err := token.LoadOrCreateFile(filepath.Join(dir, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := magnet.Load("magnets.json")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlitestore.Open(filepath.Join(dir, "unbundled.db"))
	if err != nil {
		t.Fatal(err)
	}
	var at time.Time
	svc := &consent.Service{Catalog: catalog, Ledger: db, Wordings: db, Counters: db, Keys: keys, BaseURL: "http://127.0.0.1:8080", Now: func() time.Time { return at }}
	for email, age := range map[string]time.Duration{"old@example.com": 40 * consent.Day, "new@example.com": consent.Day} {
		at = time.Now().Add(-age)
		err := svc.Signup(context.Background(), consent.SignupRequest{Email: email, Magnet: catalog.All()[0].ID, Method: consent.MethodForm,
			Evidence: consent.Evidence{SourceIP: "203.0.113.9", UserAgent: "Mozilla/5.0"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	log := &syncBuffer{}
	s := startLogging(t, dir, log, "-retention-every", "100ms", "-retention-unconfirmed-days", "30")
	deadline := time.Now().Add(10 * time.Second)
	for len(s.ledger(t, "old@example.com")) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("old@example.com still has a ledger 10s after start; log:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := s.ledger(t, "new@example.com"); len(got) != 1 || got[0].SourceIP != "203.0.113.9" || got[0].UserAgent != "Mozilla/5.0" {
		t.Errorf("new@example.com after retention: %+v, want the sign-up untouched", got)
	}
	for !strings.Contains(log.String(), `"msg":"retention"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no retention log line; log:\n%s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(log.String(), `"erased_unconfirmed":1`) || strings.Contains(log.String(), "old@example.com") {
		t.Errorf("server log: want a count of 1 erased and no address:\n%s", log.String())
	}
}

func TestRetentionFlagsRefuseBadPeriods(t *testing.T) {
	for _, args := range [][]string{
		{"-retention-unconfirmed-days", "6"},
		{"-retention-evidence-days", "0"},
		{"-retention-withdrawn-days", "5000"},
		{"-retention-every", "-1h"},
	} {
		out, err := execLocal(args...)
		if err == nil || !strings.Contains(out, strings.TrimPrefix(args[0], "-")) {
			t.Errorf("%v: got %v and %q, want a failure naming the flag", args, err, out)
		}
	}
}

// execLocal runs the server binary with args (plus a data directory of its
// own) and returns its combined output, for flags it must refuse at once.
func execLocal(args ...string) (string, error) {
	dir, err := os.MkdirTemp("", "unbundled-flags")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	out, err := exec.Command(binary, append([]string{"-addr", "127.0.0.1:0", "-data", dir}, args...)...).CombinedOutput()
	return string(out), err
}
