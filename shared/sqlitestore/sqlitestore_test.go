package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/sqlitestore"
	"github.com/unbundled/unbundled/shared/storetest"
)

func open(t testing.TB, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) consent.Store {
		return open(t, filepath.Join(t.TempDir(), "consent.db"))
	})
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd ?name#%.db")
	ctx := context.Background()
	e := consent.Event{Subscriber: "s", Seq: 1, ID: "e1", Type: consent.EventSignup, At: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC), Magnet: "m"}
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, []consent.Event{e}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	got, err := open(t, path).Ledger(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != e {
		t.Errorf("Ledger after reopening: got %+v, want [%+v]", got, e)
	}
}

// TestSecondReader checks that another connection (as a second process
// would) reads the file while the store holds it open, and sees WAL mode,
// the schema version and the store's data.
func TestSecondReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consent.db")
	s := open(t, path)
	ctx := context.Background()
	if ok, err := s.Claim(ctx, "k", time.Unix(100, 0), time.Unix(200, 0)); err != nil || !ok {
		t.Fatalf("Claim: got %v, %v, want true, nil", ok, err)
	}

	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	var version, claims int
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT count(*) FROM claims").Scan(&claims); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || version != 2 || claims != 1 {
		t.Errorf("second reader: got journal_mode %q, user_version %d, %d claims; want wal, 2, 1", mode, version, claims)
	}
}

// TestMigratesVersion1 opens a file as schema version 1 left it and checks
// that it is brought to version 2 with its data intact and wordings usable.
func TestMigratesVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consent.db")
	v1, err := os.ReadFile(filepath.Join("testdata", "schema-v1.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(string(v1)); err != nil {
		t.Fatalf("create version 1 file: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := open(t, path)
	ctx := context.Background()
	if got := userVersion(t, path); got != 2 {
		t.Errorf("user_version after Open: got %d, want 2", got)
	}
	events, err := s.Ledger(ctx, "sub1")
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].ID != "e1" || events[0].Email != "ann@example.com" {
		t.Errorf("Ledger of the version 1 subscriber: got %+v, want event e1 of ann@example.com", events)
	}
	if ok, err := s.Claim(ctx, "held", time.Unix(1_000_000, 0), time.Unix(2_000_000, 0)); err != nil || ok {
		t.Errorf("Claim of a key held in the version 1 file: got %v, %v, want false, nil", ok, err)
	}
	v := consent.NewWordingVersion(magnet.Magnet{ConsentWording: "Yes, email me.", Frequency: "monthly"})
	at := time.Date(2025, 5, 6, 7, 8, 9, 10, time.UTC)
	if err := s.ArchiveWording(ctx, "guide", v, at); err != nil {
		t.Fatalf("ArchiveWording on a migrated file: %v", err)
	}
	got, err := s.Wording(ctx, "guide", v.ID)
	v.ArchivedAt = at
	if err != nil || got != v {
		t.Errorf("Wording on a migrated file: got %+v, %v, want %+v, nil", got, err, v)
	}

	// Opening the migrated file again migrates nothing and keeps the data.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	again := open(t, path)
	if got, err := again.Wording(ctx, "guide", v.ID); err != nil || got != v {
		t.Errorf("Wording after reopening: got %+v, %v, want %+v, nil", got, err, v)
	}
}

func userVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version int
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	return version
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consent.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if s, err := sqlitestore.Open(path); err == nil {
		s.Close()
		t.Fatal("Open of a file with schema version 99: got nil error, want one")
	}
}

func TestClaimRoundsToSeconds(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "consent.db"))
	ctx := context.Background()
	base := time.Unix(1_000_000, 0)
	if ok, err := s.Claim(ctx, "k", base, base.Add(1500*time.Millisecond)); err != nil || !ok {
		t.Fatalf("first Claim: got %v, %v, want true, nil", ok, err)
	}
	tests := []struct {
		now  time.Duration
		want bool
	}{
		{1900 * time.Millisecond, false}, // expiry is rounded up to +2s: never early
		{2 * time.Second, true},
	}
	for _, tc := range tests {
		got, err := s.Claim(ctx, "k", base.Add(tc.now), base.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("Claim at +%s of a claim expiring at +1.5s: got %v, want %v", tc.now, got, tc.want)
		}
	}
}

func TestDeleteExpired(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "consent.db"))
	ctx := context.Background()
	now := time.Unix(1_000_000, 0)
	for key, expires := range map[string]time.Time{
		"past":   now.Add(-time.Second),
		"now":    now,
		"future": now.Add(time.Second),
	} {
		if _, err := s.Claim(ctx, key, now.Add(-time.Hour), expires); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteExpired(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("DeleteExpired: got %d removed, want 2 (past and now)", n)
	}
	// The unexpired claim survived the sweep.
	if ok, err := s.Claim(ctx, "future", now, now.Add(time.Hour)); err != nil || ok {
		t.Errorf("Claim of the unexpired key after the sweep: got %v, %v, want false, nil", ok, err)
	}
}

func TestAppendAfterCloseFails(t *testing.T) {
	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "consent.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	err = s.Append(context.Background(), []consent.Event{{Subscriber: "s", Seq: 1, Magnet: "m"}})
	if err == nil || errors.Is(err, consent.ErrConflict) {
		t.Errorf("Append after Close: got %v, want a non-conflict error", err)
	}
}

func BenchmarkAppend(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "consent.db"))
	ctx := context.Background()
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	seq := 0
	for b.Loop() {
		seq++
		e := consent.Event{
			Subscriber: "bench", Seq: seq, ID: fmt.Sprint(seq), Type: consent.EventGranted,
			At: at.Add(time.Duration(seq)), Magnet: "guide", Email: "bench@example.com",
			Method: consent.MethodCheckbox, Wording: "Yes, email me the monthly newsletter.",
		}
		if err := s.Append(ctx, []consent.Event{e}); err != nil {
			b.Fatal(err)
		}
	}
}
