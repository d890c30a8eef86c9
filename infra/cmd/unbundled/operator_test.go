package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/sqlitestore"
	"github.com/unbundled/unbundled/shared/token"
)

// op runs the command named by the first words of args (one word, or two
// for "suppression add", "jobs retry" and the like) against dir and
// magnets.
func op(t *testing.T, dir, magnets string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	name := 1
	if args[0] == "suppression" || args[0] == "jobs" {
		name = 2
	}
	var out, errb bytes.Buffer
	full := append(append(slices.Clone(args[:name]), "-data", dir, "-magnets", magnets), args[name:]...)
	code = run(context.Background(), full, &out, &errb)
	return code, out.String(), errb.String()
}

// mustOp is op that fails the test unless the command exits 0.
func mustOp(t *testing.T, dir, magnets string, args ...string) string {
	t.Helper()
	code, out, errs := op(t, dir, magnets, args...)
	if code != 0 {
		t.Fatalf("unbundled %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

func TestProofCommand(t *testing.T) {
	dir, magnets := dataDir(t)
	text := mustOp(t, dir, magnets, "proof", "ANN@example.com")
	for _, want := range []string{
		"PROOF OF CONSENT: ann@example.com",
		"2 November 2026 at 09:00:00 UTC",
		"Asked for the free download \"The UK GDPR Lead-Magnet Checklist\" (uk-gdpr-checklist) on a web form.",
		"Ticked the unticked box to receive marketing email from Example Ltd (monthly)",
		"may be emailed (consent)",
		"THE TEXTS THEY WERE SHOWN",
		"Yes, Example Ltd may email me",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text proof lacks %q:\n%s", want, text)
		}
	}
	page := mustOp(t, dir, magnets, "proof", "-html", "ann@example.com")
	if !strings.HasPrefix(page, "<!doctype html>") || !strings.Contains(page, "@media print") || strings.Contains(page, "<script") {
		t.Errorf("HTML proof:\n%s", page)
	}
	var p consent.Proof
	if err := json.Unmarshal([]byte(mustOp(t, dir, magnets, "proof", "-json", "ann@example.com")), &p); err != nil {
		t.Fatal(err)
	}
	if p.Email != "ann@example.com" || len(p.Events) != 2 || p.Events[1].Event.Type != consent.EventGranted || len(p.Texts) == 0 {
		t.Errorf("JSON proof: got %+v", p)
	}
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"two addresses", []string{"proof", "a@example.com", "b@example.com"}, 2, "name one address"},
		{"no address", []string{"proof"}, 2, "name the address"},
		{"both formats", []string{"proof", "-html", "-json", "a@example.com"}, 2, "choose one of -html and -json"},
		{"a bad address", []string{"proof", "not an address"}, 1, `"not an address": Enter a valid email address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := op(t, dir, magnets, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs, tt.code, tt.wantErr)
			}
		})
	}
}

func TestExportCommand(t *testing.T) {
	dir, magnets := dataDir(t)
	var x consent.Export
	if err := json.Unmarshal([]byte(mustOp(t, dir, magnets, "export", "bob@example.com")), &x); err != nil {
		t.Fatal(err)
	}
	if x.Email != "bob@example.com" || len(x.Events) != 1 || len(x.Decisions) != 1 || x.Deliveries == nil {
		t.Errorf("export: got %+v", x)
	}
	mustOp(t, dir, magnets, "erase", "-reason", "erasure request by email, 2 December 2026", "bob@example.com")
	out := mustOp(t, dir, magnets, "export", "-compact", "bob@example.com")
	if !regexp.MustCompile(`^\{"email":"bob@example.com","exported_at":"[^"]+","erased":\{"id":"[^"]+","at":"[^"]+","reason":"erasure request by email, 2 December 2026"\},"events":\[\],"decisions":\[\],"deliveries":\[\]\}\n$`).MatchString(out) {
		t.Errorf("export of an erased person: %s", out)
	}
}

func TestRectifyCommand(t *testing.T) {
	dir, magnets := dataDir(t)
	if out := mustOp(t, dir, magnets, "rectify", "-name", " Ann Lee ", "ann@example.com"); out != "ann@example.com\tname corrected to \"Ann Lee\" (recorded as a rectification)\n" {
		t.Errorf("rectify: got %q", out)
	}
	if out := mustOp(t, dir, magnets, "rectify", "-json", "-name", "Ann Lee", "ann@example.com"); out != `{"address":"ann@example.com","name":"Ann Lee","rectified":false}`+"\n" {
		t.Errorf("rectify again: got %q", out)
	}
	var x consent.Export
	if err := json.Unmarshal([]byte(mustOp(t, dir, magnets, "export", "ann@example.com")), &x); err != nil || x.Name != "Ann Lee" {
		t.Errorf("export after rectify: name %q, %v", x.Name, err)
	}
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"no -name", []string{"rectify", "ann@example.com"}, 2, "give the correct name with -name"},
		{"a bad name", []string{"rectify", "-name", "visit www.evil", "ann@example.com"}, 2, "-name: "},
		{"nobody on record", []string{"rectify", "-name", "Carol", "carol@example.com"}, 1, "Nobody with this address is on record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := op(t, dir, magnets, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs, tt.code, tt.wantErr)
			}
		})
	}
	if out := mustOp(t, dir, magnets, "rectify", "-name", "", "ann@example.com"); !strings.Contains(out, "name removed") {
		t.Errorf("removing the name: got %q", out)
	}
}

func TestAuditCommand(t *testing.T) {
	dir, magnets := dataDir(t)
	mustOp(t, dir, magnets, "object", "bob@example.com") // at the real time: after the period below
	code, out, errs := op(t, dir, magnets, "audit", "-magnet", "uk-gdpr-checklist", "-from", "2026-11-01", "-to", "2026-11-03")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0][0] != "time" || rows[1][2] != "ann@example.com" || rows[1][5] != "granted" || rows[1][0] != "2026-11-02T09:00:00Z" {
		t.Errorf("audit CSV: %q", rows)
	}
	if errs != "reading the ledger...\nwrote 1 consent event for magnet uk-gdpr-checklist from 2026-11-01T00:00:00Z before 2026-11-03T00:00:00Z\n" {
		t.Errorf("progress: got %q", errs)
	}
	// Without a magnet or period: the objection too, as JSON lines.
	out = mustOp(t, dir, magnets, "audit", "-json", "-from", "2026-11-02T09:00:00Z")
	var types []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e consent.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		types = append(types, e.Email+" "+string(e.Type))
	}
	if strings.Join(types, ",") != "ann@example.com granted,bob@example.com objected" {
		t.Errorf("audit -json: got %v", types)
	}
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"audit", "-from", "1 Nov"}, `-from: "1 Nov" is neither a date`},
		{[]string{"audit", "-from", "2026-12-01", "-to", "2026-11-01"}, "-to must come after -from"},
		{[]string{"audit", "extra"}, `unexpected "extra"`},
	} {
		if code, _, errs := op(t, dir, magnets, tt.args...); code != 2 || !strings.Contains(errs, tt.wantErr) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, errs, tt.wantErr)
		}
	}
}

func TestSuppressionAddCheckRemove(t *testing.T) {
	dir, magnets := dataDir(t)
	out := mustOp(t, dir, magnets, "suppression", "add", "-reason", "asked by phone for no email at all", "ann@example.com", "carol@example.com")
	if out != "ann@example.com\tsuppressed: no mail of any kind until removed\ncarol@example.com\tsuppressed: no mail of any kind until removed\n" {
		t.Errorf("add: got %q", out)
	}
	out = mustOp(t, dir, magnets, "suppression", "check", "ann@example.com", "bob@example.com")
	if !regexp.MustCompile(`^ann@example\.com  suppressed=yes  suppressed on \S+ by the operator: asked by phone for no email at all\nbob@example\.com  suppressed=no   not suppressed\n$`).MatchString(out) {
		t.Errorf("check: got %q", out)
	}
	list := mustOp(t, dir, magnets, "suppression", "list")
	if !strings.Contains(list, "ann@example.com,suppressed,,") || !strings.Contains(list, "carol@example.com,suppressed,,") {
		t.Errorf("list after add:\n%s", list)
	}
	out = mustOp(t, dir, magnets, "suppression", "remove", "-json", "-reason", "entered in error", "ann@example.com", "bob@example.com")
	if out != `{"action":"remove","address":"ann@example.com","changed":true}`+"\n"+`{"action":"remove","address":"bob@example.com","changed":false}`+"\n" {
		t.Errorf("remove: got %q", out)
	}
	var st struct {
		Address    string
		Suppressed bool
		Reason     string
	}
	if err := json.Unmarshal([]byte(mustOp(t, dir, magnets, "suppression", "check", "-json", "ann@example.com")), &st); err != nil || st.Suppressed || !strings.Contains(st.Reason, "lifted") {
		t.Errorf("check after remove: %+v, %v", st, err)
	}
	for _, tt := range []struct {
		args    []string
		code    int
		wantErr string
	}{
		{[]string{"suppression", "add", "ann@example.com"}, 2, "say why with -reason"},
		{[]string{"suppression", "remove", "-reason", "x"}, 2, "name at least one address"},
		{[]string{"suppression", "check", "nope"}, 1, `"nope": Enter a valid email address`},
		{[]string{"suppression", "add", "-reason", "two\nlines", "ann@example.com"}, 2, "-reason: The reason must be one line"},
	} {
		if code, _, errs := op(t, dir, magnets, tt.args...); code != tt.code || !strings.Contains(errs, tt.wantErr) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", tt.args, code, errs, tt.code, tt.wantErr)
		}
	}
}

func TestSuppressionRemoveAfterComplaintNeedsForce(t *testing.T) {
	dir, magnets := dataDir(t)
	svc, closeStore := openService(t, dir, magnets)
	if err := svc.RecordFeedback(context.Background(), consent.Feedback{ID: "sns-1", Kind: consent.FeedbackComplaint, Recipients: []string{"ann@example.com"}}); err != nil {
		t.Fatal(err)
	}
	closeStore()
	code, _, errs := op(t, dir, magnets, "suppression", "remove", "-reason", "she asked us to", "ann@example.com")
	if code != 1 || !strings.Contains(errs, "spam complaint") || !strings.Contains(errs, "add -force") {
		t.Errorf("remove without -force: exit %d, stderr %q", code, errs)
	}
	if out := mustOp(t, dir, magnets, "suppression", "remove", "-force", "-reason", "she asked us to, letter of 2 December 2026", "ann@example.com"); !strings.Contains(out, "suppression lifted") {
		t.Errorf("remove with -force: %q", out)
	}
	// Her withdrawal stands: she is still listed, as withdrawn.
	if list := mustOp(t, dir, magnets, "suppression", "list"); !strings.Contains(list, "ann@example.com,withdrawn,marketing:example-ltd,") {
		t.Errorf("list after the removal:\n%s", list)
	}
}

// openService opens dir's ledger as the local server would, with a clock
// at the data set's time.
func openService(t *testing.T, dir, magnets string) (*consent.Service, func()) {
	t.Helper()
	catalog, err := magnet.Load(magnets)
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
	at := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	svc := &consent.Service{Catalog: catalog, Ledger: db, Wordings: db, Counters: db, Erasure: db, Scanner: db, Jobs: db, Keys: keys,
		BaseURL: "http://127.0.0.1:8080", Now: func() time.Time { return at }}
	return svc, func() { db.Close() }
}

// failDeliveries delivers every due job in dir through a mail provider
// that rejects every message for good, so each ends failed, and returns
// their ids.
func failDeliveries(t *testing.T, dir, magnets string) []string {
	t.Helper()
	svc, closeStore := openService(t, dir, magnets)
	defer closeStore()
	mailer := &consenttest.Mailer{Err: fmt.Errorf("%w: MessageRejected: Email address is not verified", consent.ErrRejected)}
	d := &consent.Deliverer{Service: svc, Jobs: svc.Jobs, Mailer: mailer, Backoff: consent.Backoff{Attempts: 1}}
	if _, err := d.DeliverDue(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	var ids []string
	if err := svc.FailedJobs(context.Background(), func(j consent.Job) error { ids = append(ids, j.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestJobsListAndRetry(t *testing.T) {
	dir, magnets := dataDir(t)
	failed := failDeliveries(t, dir, magnets)
	if len(failed) != 2 {
		t.Fatalf("failed jobs: got %d, want ann's and bob's freebies", len(failed))
	}
	code, out, errs := op(t, dir, magnets, "jobs", "list", "-failed")
	if code != 0 || errs != "2 failed jobs\n" {
		t.Fatalf("jobs list -failed: exit %d, stderr %q", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^\S+\tfailed\tfreebie\tuk-gdpr-checklist\t2026-11-02T09:00:00Z\t1 attempt\t(ann|bob)@example\.com\tmail provider rejected the message: MessageRejected: Email address is not verified$`).MatchString(lines[0]) {
		t.Errorf("jobs list -failed:\n%s", out)
	}

	// One by id, then the rest.
	code, out, errs = op(t, dir, magnets, "jobs", "retry", failed[0], "no-such-job")
	if code != 1 || !regexp.MustCompile(`^`+failed[0]+`\tretried: pending again \(freebie to (ann|bob)@example\.com\)\n$`).MatchString(out) || !strings.Contains(errs, "job no-such-job: no such job") ||
		!strings.Contains(errs, "1 job pending again: a running local server sends them within a second") {
		t.Errorf("jobs retry ID: exit %d\nstdout %q\nstderr %q", code, out, errs)
	}
	code, out, errs = op(t, dir, magnets, "jobs", "retry", "-all-failed", "-json")
	var r consent.RetryResult
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil || r.ID != failed[1] || r.Job == nil || r.Job.State != consent.JobPending || r.Job.Reason != "" || r.Job.Attempts != 0 {
		t.Errorf("jobs retry -all-failed: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	if code, _, errs := op(t, dir, magnets, "jobs", "retry", "-all-failed"); code != 0 || !strings.Contains(errs, "no failed jobs: nothing to retry") {
		t.Errorf("nothing left to retry: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := op(t, dir, magnets, "jobs", "retry", failed[0]); code != 1 || !strings.Contains(errs, "only a failed job can be retried") {
		t.Errorf("retrying a pending job: exit %d, stderr %q", code, errs)
	}
	if out := mustOp(t, dir, magnets, "jobs", "list", "-state", "pending"); strings.Count(out, "\tpending\t") != 2 {
		t.Errorf("pending after the retries:\n%s", out)
	}
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"jobs", "retry"}, "name the jobs to retry, or give -all-failed"},
		{[]string{"jobs", "retry", "-all-failed", "x"}, "not both"},
		{[]string{"jobs", "list", "-state", "lost"}, `-state "lost": want pending`},
		{[]string{"jobs", "list", "-failed", "-state", "sent"}, "contradict"},
		{[]string{"jobs", "lsit"}, `unknown command "lsit"`},
	} {
		if code, _, errs := op(t, dir, magnets, tt.args...); code != 2 || !strings.Contains(errs, tt.wantErr) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", tt.args, code, errs, tt.wantErr)
		}
	}
}

func TestNewCommandsHaveHelp(t *testing.T) {
	for _, args := range [][]string{
		{"proof", "-h"}, {"export", "-h"}, {"rectify", "-h"}, {"audit", "-h"}, {"jobs", "list", "-h"}, {"jobs", "retry", "-h"},
		{"suppression", "add", "-h"}, {"suppression", "remove", "-h"}, {"suppression", "check", "-h"}, {"jobs", "-h"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 0 || !strings.Contains(errb.String(), "Usage: unbundled") || !strings.Contains(errb.String(), "-json") && args[1] != "-h" {
			t.Errorf("%v: exit %d\n%s", args, code, errb.String())
		}
	}
}

// TestEveryCommandTakesJSON: every subcommand takes -json, so a tool can
// read its answer.
func TestEveryCommandTakesJSON(t *testing.T) {
	for _, args := range [][]string{
		{"may-email"}, {"object"}, {"import"}, {"erase"}, {"proof"}, {"export"}, {"rectify"}, {"audit"}, {"records"},
		{"suppression", "list"}, {"suppression", "add"}, {"suppression", "remove"}, {"suppression", "check"},
		{"jobs", "list"}, {"jobs", "retry"}, {"retention", "run"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), append(args, "-h"), &out, &errb); code != 0 || !strings.Contains(errb.String(), "\n  -json") {
			t.Errorf("%v -h: exit %d, no -json flag:\n%s", args, code, errb.String())
		}
	}
}
