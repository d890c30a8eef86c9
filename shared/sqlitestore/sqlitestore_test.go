package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/storetest"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/sqlitestore"
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
	if err := storetest.Append(ctx, s, e); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	got, err := open(t, path).Events(ctx, "s")
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
	if ok, err := storetest.Claim(ctx, s, "k", time.Unix(100, 0), time.Unix(200, 0)); err != nil || !ok {
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
	if mode != "wal" || version != sqlitestore.SchemaVersion() || claims != 1 {
		t.Errorf("second reader: got journal_mode %q, user_version %d, %d claims; want wal, %d, 1", mode, version, claims, sqlitestore.SchemaVersion())
	}
}

// TestMigrates opens files as older schema versions left them and checks
// that they are brought to the current version with their data intact and the newer
// tables usable.
func TestMigrates(t *testing.T) {
	for _, tc := range []struct {
		file        string
		wantWording bool // the file holds wording w-old for magnet guide
	}{
		{"schema-v1.sql", false},
		{"schema-v2.sql", true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "consent.db")
			old, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(string(old)); err != nil {
				t.Fatalf("create old file: %v", err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			s := open(t, path)
			ctx := context.Background()
			if got, want := userVersion(t, path), sqlitestore.SchemaVersion(); got != want {
				t.Errorf("user_version after Open: got %d, want %d", got, want)
			}
			if n := indexCount(t, path, "events_by_magnet"); n != 0 {
				t.Errorf("index events_by_magnet still exists after migrating")
			}
			events, err := s.Events(ctx, "sub1")
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 || events[0].ID != "e1" || events[0].Email != "ann@example.com" {
				t.Errorf("Ledger of the old file's subscriber: got %+v, want event e1 of ann@example.com", events)
			}
			now := time.Unix(1_000_000, 0)
			if ok, err := storetest.Claim(ctx, s, "held", now, now.Add(time.Hour)); err != nil || ok {
				t.Errorf("Claim of a key held in the old file: got %v, %v, want false, nil", ok, err)
			}
			if got, err := s.GetClaim(ctx, "held", now); err != nil || got != "" {
				t.Errorf("GetClaim of a key held in the old file: got %q, %v, want \"\", nil", got, err)
			}
			if tc.wantWording {
				if v, err := s.Wording(ctx, "guide", "w-old"); err != nil || v.Wording != "Yes, email me." {
					t.Errorf("Wording of the old file: got %+v, %v, want w-old", v, err)
				}
			}
			v := consent.NewWordingVersion(magnet.Magnet{ConsentWording: "Yes, email me.", Frequency: "monthly"})
			at := time.Date(2025, 5, 6, 7, 8, 9, 10, time.UTC)
			if err := s.ArchiveWording(ctx, "guide", v, at); err != nil {
				t.Fatalf("ArchiveWording on a migrated file: %v", err)
			}
			v.ArchivedAt = at
			j := consent.Job{ID: "j1", State: consent.JobPending, CreatedAt: at, Email: "ann@example.com", ExpiresAt: time.Date(2025, 6, 6, 0, 0, 0, 0, time.UTC)}
			w := consent.Write{Now: now, Jobs: []consent.Job{j}, Claims: []consent.ClaimRecord{{Key: "new", Value: "v", ExpiresAt: now.Add(time.Hour)}}}
			if err := s.Commit(ctx, w); err != nil {
				t.Fatalf("Commit on a migrated file: %v", err)
			}

			// Opening the migrated file again migrates nothing and keeps the data.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			again := open(t, path)
			if got, err := again.Wording(ctx, "guide", v.ID); err != nil || got != v {
				t.Errorf("Wording after reopening: got %+v, %v, want %+v, nil", got, err, v)
			}
			if got, err := again.Job(ctx, "j1"); err != nil || got != j {
				t.Errorf("Job after reopening: got %+v, %v, want %+v, nil", got, err, j)
			}
			if got, err := again.GetClaim(ctx, "new", now); err != nil || got != "v" {
				t.Errorf("GetClaim after reopening: got %q, %v, want \"v\", nil", got, err)
			}

			// The old file's subscriber can be erased: the tombstones table exists.
			ts := consent.Tombstone{ID: "t1", At: at, Reason: "request"}
			if got, err := again.Erase(ctx, "sub1", ts); err != nil || got != (consent.Erased{Events: 1}) {
				t.Errorf("Erase on a migrated file: got %+v, %v, want 1 event erased, nil", got, err)
			}
			if got, err := again.Tombstone(ctx, "t1"); err != nil || got != ts {
				t.Errorf("Tombstone on a migrated file: got %+v, %v, want %+v, nil", got, err, ts)
			}
		})
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
	if ok, err := storetest.Claim(ctx, s, "k", base, base.Add(1500*time.Millisecond)); err != nil || !ok {
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
		got, err := storetest.Claim(ctx, s, "k", base.Add(tc.now), base.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("Claim at +%s of a claim expiring at +1.5s: got %v, want %v", tc.now, got, tc.want)
		}
	}
}

func TestDeleteExpired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consent.db")
	s := open(t, path)
	ctx := context.Background()
	now := time.Unix(1_000_000, 0)
	expiries := map[string]time.Time{
		"past":   now.Add(-time.Second),
		"now":    now,
		"future": now.Add(time.Second),
	}
	w := consent.Write{Now: now.Add(-time.Hour)}
	for key, expires := range expiries {
		w.Claims = append(w.Claims, consent.ClaimRecord{Key: key, Value: key, ExpiresAt: expires})
		w.Jobs = append(w.Jobs, consent.Job{ID: key, State: consent.JobPending, ExpiresAt: expires})
	}
	w.Jobs = append(w.Jobs, consent.Job{ID: "forever", State: consent.JobPending}) // no expiry
	if err := s.Commit(ctx, w); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteExpired(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("DeleteExpired: got %d removed, want 4 (past and now, claims and jobs)", n)
	}
	// The unexpired records survived the sweep; the others are gone.
	if ok, err := storetest.Claim(ctx, s, "future", now, now.Add(time.Hour)); err != nil || ok {
		t.Errorf("Claim of the unexpired key after the sweep: got %v, %v, want false, nil", ok, err)
	}
	for _, id := range []string{"future", "forever"} {
		if _, err := s.Job(ctx, id); err != nil {
			t.Errorf("Job(%q) after the sweep: got %v, want the job", id, err)
		}
	}
	for _, id := range []string{"past", "now"} {
		if _, err := s.Job(ctx, id); !errors.Is(err, consent.ErrNotFound) {
			t.Errorf("Job(%q) after the sweep: got %v, want ErrNotFound", id, err)
		}
	}
	db := readOnly(t, path)
	var claims int
	if err := db.QueryRow("SELECT count(*) FROM claims").Scan(&claims); err != nil {
		t.Fatal(err)
	}
	if claims != 1 {
		t.Errorf("claims left after the sweep: got %d, want 1", claims)
	}
}

// TestDueJobsUsesIndex checks that DueJobs reads index jobs_due rather than
// scanning every job: its query must repeat the index's WHERE clause.
func TestDueJobsUsesIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "consent.db")
	open(t, path)
	rows, err := readOnly(t, path).Query("EXPLAIN QUERY PLAN "+sqlitestore.DueJobsQuery, "2025", 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(plan) != 1 || !strings.Contains(plan[0], "USING INDEX jobs_due") {
		t.Errorf("query plan of DueJobs: got %q, want one step using index jobs_due (and no temp b-tree for ORDER BY)", plan)
	}
}

// readOnly opens a second, read-only connection to the file at path, as
// another process would.
func readOnly(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestAppendAfterCloseFails(t *testing.T) {
	s, err := sqlitestore.Open(filepath.Join(t.TempDir(), "consent.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	err = storetest.Append(context.Background(), s, consent.Event{Subscriber: "s", Seq: 1, Magnet: "m"})
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
		if err := storetest.Append(ctx, s, e); err != nil {
			b.Fatal(err)
		}
	}
}

// indexCount counts the indexes called name in the file at path.
func indexCount(t *testing.T, path, name string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMigrationFilesNumbered: the embedded files are 0001, 0002, … without
// gaps, and the schema version is their count.
func TestMigrationFilesNumbered(t *testing.T) {
	if got := sqlitestore.SchemaVersion(); got < 4 {
		t.Fatalf("schema version %d: want at least 4 (one per migrations/*.sql file)", got)
	}
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != sqlitestore.SchemaVersion() {
		t.Errorf("%d migration files, schema version %d: want them equal", len(files), sqlitestore.SchemaVersion())
	}
}
