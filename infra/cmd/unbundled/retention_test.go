package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/sqlitestore"
	"github.com/unbundled/unbundled/shared/token"
)

// retentionDataDir is a local server's data directory holding, relative to
// now: a freebie-only sign-up 40 days old (past the default 30 days), one
// a day old, and a single opt-in consent 400 days old (its evidence past
// the default 365 days).
func retentionDataDir(t *testing.T) (dir, magnets string) {
	t.Helper()
	dir = t.TempDir()
	var file struct{ Magnets []magnet.Magnet }
	if err := json.Unmarshal(consenttest.SampleCatalog, &file); err != nil {
		t.Fatal(err)
	}
	file.Magnets[0].DoubleOptIn = new(false)
	data, _ := json.Marshal(map[string]any{"magnets": file.Magnets})
	magnets = filepath.Join(dir, "magnets.json")
	if err := os.WriteFile(magnets, data, 0o600); err != nil {
		t.Fatal(err)
	}
	catalog, err := magnet.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := token.LoadOrCreateFile(filepath.Join(dir, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlitestore.Open(filepath.Join(dir, "unbundled.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var at time.Time
	svc := &consent.Service{Catalog: catalog, Ledger: db, Wordings: db, Counters: db, Keys: keys, BaseURL: "http://127.0.0.1:8080", Now: func() time.Time { return at }}
	for _, s := range []struct {
		email  string
		ticked bool
		age    time.Duration
	}{{"old@example.com", false, 40 * consent.Day}, {"new@example.com", false, consent.Day}, {"ann@example.com", true, 400 * consent.Day}} {
		at = time.Now().Add(-s.age)
		err := svc.Signup(context.Background(), consent.SignupRequest{Email: s.email, Magnet: "uk-gdpr-checklist", Consent: s.ticked, Method: consent.MethodForm,
			Evidence: consent.Evidence{SourceIP: "203.0.113.9", UserAgent: "Mozilla/5.0"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir, magnets
}

func ledgerIn(t *testing.T, dir, email string) []consent.Event {
	t.Helper()
	keys, err := token.LoadOrCreateFile(filepath.Join(dir, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlitestore.Open(filepath.Join(dir, "unbundled.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	events, err := db.Events(context.Background(), keys.Subject.SubscriberID(email))
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func TestRetentionRun(t *testing.T) {
	dir, magnets := retentionDataDir(t)
	ctx := context.Background()
	annBefore := ledgerIn(t, dir, "ann@example.com")

	var out, errb bytes.Buffer
	if code := run(ctx, []string{"retention", "run", "-data", dir, "-magnets", magnets, "-dry-run", "-json"}, &out, &errb); code != 0 {
		t.Fatalf("dry run: exit code %d, stderr %s", code, errb.String())
	}
	var r consent.RetentionReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("dry run -json: %v\n%s", err, out.String())
	}
	if !r.DryRun || r.People != 3 || r.Kept != 2 || len(r.Erasures) != 1 || r.Erasures[0].Email != "old@example.com" ||
		r.Erasures[0].Rule != consent.RetentionUnconfirmed || r.EventsMinimised != 2 || r.PeopleMinimised != 1 {
		t.Errorf("dry run report: got %+v, want old erased and ann's 2 events minimised", r)
	}
	if got := ledgerIn(t, dir, "old@example.com"); len(got) != 1 {
		t.Errorf("old's ledger after a dry run: %d events, want 1", len(got))
	}

	out.Reset()
	errb.Reset()
	if code := run(ctx, []string{"retention", "run", "-data", dir, "-magnets", magnets, "-dry-run"}, &out, &errb); code != 0 {
		t.Fatalf("dry run: exit code %d, stderr %s", code, errb.String())
	}
	for _, want := range []string{"Dry run at", "nothing was written", "3 examined, 2 kept, 1 would be erased", "2 events of 1 person would be minimised", "old@example.com", "retention: freebie only, last activity "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	errb.Reset()
	if code := run(ctx, []string{"retention", "run", "-data", dir, "-magnets", magnets}, &out, &errb); code != 0 {
		t.Fatalf("run: exit code %d, stderr %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "retention: 3 of 3 people") {
		t.Errorf("stderr lacks progress: %q", errb.String())
	}
	if !strings.Contains(out.String(), "1 erased (1 never held a basis, 0 withdrew)") || !strings.Contains(out.String(), "2 events of 1 person minimised") {
		t.Errorf("run output:\n%s", out.String())
	}
	if got := ledgerIn(t, dir, "old@example.com"); len(got) != 0 {
		t.Errorf("old's ledger after the run: %d events, want none", len(got))
	}
	if got := ledgerIn(t, dir, "new@example.com"); len(got) != 1 || got[0].SourceIP != "203.0.113.9" || got[0].UserAgent != "Mozilla/5.0" {
		t.Errorf("new's ledger after the run: %+v, want it untouched", got)
	}
	ann := ledgerIn(t, dir, "ann@example.com")
	for i, e := range ann {
		want := consent.MinimisedEvidence(annBefore[i])
		if e.SourceIP != "203.0.113.0/24" || e != want {
			t.Errorf("ann's event %d after the run:\n got %+v\nwant %+v", e.Seq, e, want)
		}
	}

	// With a longer period nothing more is due.
	out.Reset()
	if code := run(ctx, []string{"retention", "run", "-data", dir, "-magnets", magnets, "-unconfirmed-days", "60", "-json"}, &out, &errb); code != 0 {
		t.Fatalf("second run: exit code %d", code)
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || len(r.Erasures) != 0 || r.EventsMinimised != 0 || r.Policy.Unconfirmed != 60 {
		t.Errorf("second run: got %+v, %v; want nothing erased or minimised under a 60-day policy", r, err)
	}
}

func TestRetentionUsage(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no command", []string{"retention"}, 2, "Usage: unbundled retention COMMAND"},
		{"unknown command", []string{"retention", "now"}, 2, `unknown command "now"`},
		{"help", []string{"retention", "-h"}, 0, "run "},
		{"run help", []string{"retention", "run", "-h"}, 0, "Usage: unbundled retention run [flags]"},
		{"an operand", []string{"retention", "run", "ann@example.com"}, 2, `unexpected "ann@example.com"`},
		{"too short", []string{"retention", "run", "-unconfirmed-days", "6"}, 2, "-unconfirmed-days 7-365"},
		{"zero", []string{"retention", "run", "-evidence-days", "0"}, 2, "-evidence-days 30-3650"},
		{"too long", []string{"retention", "run", "-withdrawn-days", "4000"}, 2, "-withdrawn-days 30-3650"},
		{"no data", []string{"retention", "run", "-data", t.TempDir(), "-magnets", "../../local/magnets.json"}, 1, "no keys file"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		if code != tc.wantCode || !strings.Contains(errb.String(), tc.wantErr) {
			t.Errorf("%s: got exit %d, stderr %q; want %d and %q", tc.name, code, errb.String(), tc.wantCode, tc.wantErr)
		}
	}
}
