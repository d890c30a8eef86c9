package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/sqlitestore"
	"github.com/unbundled/unbundled/shared/token"
)

// dataDir is a local server's data directory with two sign-ups: ann ticked
// the box on a single opt-in magnet, bob did not.
func dataDir(t *testing.T) (dir, magnets string) {
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
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	svc := &consent.Service{Catalog: catalog, Ledger: db, Wordings: db, Counters: db, Keys: keys, BaseURL: "http://127.0.0.1:8080", Now: func() time.Time { return at }}
	for _, s := range []struct {
		email  string
		ticked bool
	}{{"ann@example.com", true}, {"bob@example.com", false}} {
		err := svc.Signup(context.Background(), consent.SignupRequest{Email: s.email, Magnet: "uk-gdpr-checklist", Consent: s.ticked, Method: consent.MethodForm})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir, magnets
}

func TestMayEmail(t *testing.T) {
	dir, magnets := dataDir(t)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"may-email", "-data", dir, "-magnets", magnets, "-json",
		"ANN@example.com", "bob@example.com", "carol@example.com", "not an address"}, &out, &errb)
	if code != 1 {
		t.Errorf("exit code: got %d, want 1 (one address could not be decided)", code)
	}
	if !strings.Contains(errb.String(), `"not an address"`) {
		t.Errorf("stderr %q does not name the bad address", errb.String())
	}
	want := []string{
		`{"address":"ANN@example.com","allowed":true,"basis":"consent","purpose":"marketing:example-ltd","reason":"consent given 2026-11-02 on magnet 'uk-gdpr-checklist' (single opt-in)"}`,
		`{"address":"bob@example.com","allowed":false,"basis":"none","purpose":"marketing:example-ltd","reason":"no consent recorded for marketing:example-ltd"}`,
		`{"address":"carol@example.com","allowed":false,"basis":"none","purpose":"marketing:example-ltd","reason":"no consent recorded for marketing:example-ltd"}`,
	}
	// ann's answer carries the opt-out link a message must hold, under the
	// local server's default base URL.
	optOut := regexp.MustCompile(`,"opt_out_url":"http://127\.0\.0\.1:8080/unsubscribe\?t=[^"]+"`)
	if n := len(optOut.FindAllString(out.String(), -1)); n != 1 {
		t.Errorf("got %d opt-out links, want 1 (ann's):\n%s", n, out.String())
	}
	if got := strings.Split(strings.TrimSpace(optOut.ReplaceAllString(out.String(), "")), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\ngot  %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}

	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"may-email", "-data", dir, "-magnets", magnets, "ann@example.com"}, &out, &errb); code != 0 {
		t.Fatalf("text output: exit %d, stderr %s", code, errb.String())
	}
	if got := out.String(); !strings.Contains(got, "ann@example.com  allowed=yes  basis=consent  consent given 2026-11-02") {
		t.Errorf("text output: got %q", got)
	}
}

func TestMayEmailErrors(t *testing.T) {
	dir, magnets := dataDir(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no command", nil, 2, "Usage:"},
		{"unknown command", []string{"may-mail"}, 2, `unknown command "may-mail"`},
		{"no address", []string{"may-email", "-data", dir, "-magnets", magnets}, 2, "name at least one address"},
		{"wrong data directory", []string{"may-email", "-data", t.TempDir(), "-magnets", magnets, "a@example.com"}, 1, "point -data at the local server's data directory"},
		{"dynamodb without the stack's secrets", []string{"may-email", "-store", "dynamodb", "-magnets", magnets, "a@example.com"}, 1, "-signing-keys-secret"},
		{"a base URL with a trailing slash", []string{"may-email", "-data", dir, "-magnets", magnets, "-base-url", "https://signup.example.com/", "a@example.com"}, 1, "-base-url: must be an absolute http(s) URL"},
		{"unknown purpose answers none", []string{"may-email", "-data", dir, "-magnets", magnets, "-purpose", "marketing:nobody", "ann@example.com"}, 0, ""},
		{"help", []string{"may-email", "-h"}, 0, "Usage: unbundled may-email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb)
			if code != tt.wantCode || !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("got exit %d, stderr %q; want exit %d and stderr containing %q", code, errb.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}

func TestObjectThenMayEmail(t *testing.T) {
	dir, magnets := dataDir(t)
	ctx := context.Background()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"object", "-data", dir, "-magnets", magnets, "ann@example.com", "ANN@example.com", "nope"}, &out, &errb); code != 1 {
		t.Errorf("exit code: got %d, want 1 (one bad address); stderr %s", code, errb.String())
	}
	want := "ann@example.com\tobjection recorded: no marketing, ever\nANN@example.com\talready objected: nothing changed\n"
	if out.String() != want {
		t.Errorf("object output: got %q, want %q", out.String(), want)
	}
	out.Reset()
	if code := run(ctx, []string{"may-email", "-data", dir, "-magnets", magnets, "-json", "ann@example.com"}, &out, &errb); code != 0 {
		t.Fatalf("may-email: exit %d, stderr %s", code, errb.String())
	}
	var d struct {
		Allowed bool
		Basis   string
		Reason  string
	}
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.Basis != "objected" || !strings.HasSuffix(d.Reason, "(recorded by the operator) — do not contact") {
		t.Errorf("after an objection: got %+v, want not allowed, basis objected, a do-not-contact reason", d)
	}
}

func TestObjectJSON(t *testing.T) {
	dir, magnets := dataDir(t)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"object", "-data", dir, "-magnets", magnets, "-json",
		"bob@example.com", "BOB@example.com", "nope"}, &out, &errb)
	if code != 1 {
		t.Errorf("exit code: got %d, want 1 (one bad address); stderr %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), `"nope"`) {
		t.Errorf("stderr %q does not name the bad address", errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || lines[0] != `{"address":"bob@example.com","recorded":true}` || lines[1] != `{"address":"BOB@example.com","recorded":false}` {
		t.Fatalf("output: got\n%s", out.String())
	}
	var bad map[string]any
	if err := json.Unmarshal([]byte(lines[2]), &bad); err != nil {
		t.Fatal(err)
	}
	if len(bad) != 2 || bad["address"] != "nope" || bad["error"] == "" {
		t.Errorf("bad address: got %v, want {address, error}", bad)
	}
}
