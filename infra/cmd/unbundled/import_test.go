package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
)

// ledgerDir is dataDir (ann consented, bob did not) with a magnets file
// whose magnet declares the product category "compliance guides", so
// customers who bought one may be imported with a soft opt-in.
func ledgerDir(t *testing.T) (dir, magnets string) {
	t.Helper()
	dir, _ = dataDir(t)
	m := consenttest.SampleMagnet(t)
	m.DoubleOptIn = new(false)
	m.ProductCategories = []string{"compliance guides"}
	data, err := json.Marshal(map[string]any{"magnets": []any{m}})
	if err != nil {
		t.Fatal(err)
	}
	magnets = filepath.Join(dir, "magnets-with-categories.json")
	if err := os.WriteFile(magnets, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, magnets
}

// unbundled runs the command against dir and magnets: args are the
// command name ("import", "suppression list" as two), then its flags and
// operands.
func unbundled(t *testing.T, dir, magnets string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	name := 1
	if args[0] == "suppression" {
		name = 2
	}
	full := append(append(slices.Clone(args[:name]), "-data", dir, "-magnets", magnets), args[name:]...)
	code = run(context.Background(), full, &out, &errb)
	return code, out.String(), errb.String()
}

// writeFile writes a file named name in a new directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// decision asks may-email -json about address.
func decision(t *testing.T, dir, magnets, address string) consent.Decision {
	t.Helper()
	code, out, errs := unbundled(t, dir, magnets, "may-email", "-json", address)
	if code != 0 {
		t.Fatalf("may-email %s: exit %d, stderr %s", address, code, errs)
	}
	var d consent.Decision
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("may-email %s: %v: %s", address, err, out)
	}
	return d
}

const (
	customersHeader = "email,name,basis,sale_date,sale_reference,category,opt_out_offered\n"
	carolRow        = "carol@example.com,Carol,soft_opt_in,2026-01-15,INV-1001,compliance guides,unticked box at checkout\n"
	daveRow         = "dave@example.com,,soft_opt_in,2026-02-03,INV-1002,compliance guides,unticked box at checkout\n"
)

// importArgs are the flags of an import of customers, then the file.
func importArgs(path string, extra ...string) []string {
	args := append([]string{"import", "-source", "orders in our web shop, 2024-2026", "-origin", "customers", "-operator", "tester"}, extra...)
	return append(args, path)
}

func TestImportSoftOptInThenMayEmail(t *testing.T) {
	dir, magnets := ledgerDir(t)
	file := writeFile(t, "customers.csv", customersHeader+carolRow+daveRow)
	code, out, errs := unbundled(t, dir, magnets, importArgs(file)...)
	if code != 0 {
		t.Fatalf("import: exit %d, stderr %s", code, errs)
	}
	for _, want := range []string{
		"file       customers.csv (sha256 ", "source     orders in our web shop, 2024-2026\n", "origin     customers\n",
		"operator   tester\n", "rows       2\n", "imported   2\n", "unchanged  0 (already imported from this file)\n", "skipped    0 (never re-added)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	for _, address := range []string{"carol@example.com", "dave@example.com"} {
		d := decision(t, dir, magnets, address)
		if !d.Allowed || d.Basis != consent.BasisSoftOptIn || !strings.Contains(d.Reason, "imported ") || !strings.Contains(d.Reason, "from customers.csv") {
			t.Errorf("may-email %s: got %+v, want allowed on soft_opt_in, citing the file", address, d)
		}
	}

	// The same file again changes nothing; -json prints the report.
	code, out, errs = unbundled(t, dir, magnets, importArgs(file, "-json")...)
	if code != 0 {
		t.Fatalf("second import: exit %d, stderr %s", code, errs)
	}
	var rep consent.ImportReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Rows != 2 || rep.Imported != 0 || rep.Unchanged != 2 || rep.Operator != "tester" || rep.File != "customers.csv" || len(rep.Digest) != 64 {
		t.Errorf("second import: got %+v, want 2 rows unchanged", rep)
	}
	if !strings.Contains(out, `"skipped":[]`) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("-json: got %q, want one JSON object with an empty skipped list", out)
	}
}

func TestImportCorporateContact(t *testing.T) {
	dir, magnets := ledgerDir(t)
	file := writeFile(t, "trade-show.csv", "email,basis,organisation,company_number,role,lia_reference\n"+
		"erin@corp.example,corporate,Corp Ltd,01234567,Head of Compliance,LIA-2026-01\n")
	code, _, errs := unbundled(t, dir, magnets, "import", "-source", "badge scans, trade show 2026", "-origin", "business_contacts", file)
	if code != 0 {
		t.Fatalf("import: exit %d, stderr %s", code, errs)
	}
	d := decision(t, dir, magnets, "erin@corp.example")
	if !d.Allowed || d.Basis != consent.BasisCorporate || !strings.Contains(d.Reason, "Head of Compliance at Corp Ltd (01234567)") {
		t.Errorf("may-email: got %+v, want allowed on corporate, naming the role and company", d)
	}
}

func TestImportRefusesAFileWithABadRow(t *testing.T) {
	dir, magnets := ledgerDir(t)
	file := writeFile(t, "customers.csv", customersHeader+carolRow+
		"frank@example.com,,soft_opt_in,last week,INV-9,compliance guides,unticked box at checkout\n"+
		"gina@example.com,,soft_opt_in,2026-01-20,INV-10,garden tools,unticked box at checkout\n"+daveRow)
	code, out, errs := unbundled(t, dir, magnets, importArgs(file)...)
	if code != 1 {
		t.Errorf("exit: got %d, want 1", code)
	}
	want := "row 3: sale_date: must be a date like 2026-03-01\n" +
		`row 4: category: "garden tools" is not a product category of any configured purpose; declare it in a magnet's product_categories first` + "\n" +
		"unbundled import: nothing was imported: 2 problem(s) to fix in the file or flags\n"
	if errs != want || out != "" {
		t.Errorf("got stdout %q, stderr:\n%s\nwant stderr:\n%s", out, errs, want)
	}
	for _, address := range []string{"carol@example.com", "dave@example.com"} {
		if d := decision(t, dir, magnets, address); d.Allowed || d.Basis != consent.BasisNone {
			t.Errorf("may-email %s after a refused file: got %+v, want none", address, d)
		}
	}
}

func TestImportRefusals(t *testing.T) {
	dir, magnets := ledgerDir(t)
	good := writeFile(t, "customers.csv", customersHeader+carolRow)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"a bought list", []string{"import", "-source", "list broker", "-origin", "purchased", good}, 1,
			"file: origin: bought or rented lists cannot be imported"},
		{"a rented list", []string{"import", "-source", "list broker", "-origin", "rented", good}, 1, "bought or rented lists cannot be imported"},
		{"no source", []string{"import", "-origin", "customers", good}, 1, "file: source: say where these contacts came from"},
		{"no origin", []string{"import", "-source", "shop", good}, 1, "file: origin: say how you got these contacts"},
		{"not CSV or JSON", []string{"import", "-source", "shop", "-origin", "customers", writeFile(t, "customers.xlsx", "x")}, 1,
			"the file name must end in .csv or .json"},
		{"no such file", []string{"import", "-source", "shop", "-origin", "customers", filepath.Join(dir, "nope.csv")}, 1, "no such file"},
		{"no file", []string{"import", "-source", "shop", "-origin", "customers"}, 2, "name the file to read"},
		{"a flag after the file", []string{"import", "-source", "shop", "-origin", "customers", good, "-dry-run"}, 2, "flags go before it"},
		{"help", []string{"import", "-h"}, 0, "Usage: unbundled import [flags] FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := unbundled(t, dir, magnets, tt.args...)
			if code != tt.wantCode || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("got exit %d, stderr %q; want exit %d and stderr containing %q", code, errs, tt.wantCode, tt.wantErr)
			}
		})
	}
	if d := decision(t, dir, magnets, "carol@example.com"); d.Basis != consent.BasisNone {
		t.Errorf("may-email after refusals: got %+v, want none", d)
	}
}

func TestImportDryRunWritesNothing(t *testing.T) {
	dir, magnets := ledgerDir(t)
	file := writeFile(t, "customers.csv", customersHeader+carolRow+daveRow)
	code, out, errs := unbundled(t, dir, magnets, importArgs(file, "-dry-run")...)
	if code != 0 {
		t.Fatalf("dry run: exit %d, stderr %s", code, errs)
	}
	if !strings.HasPrefix(out, "dry run: nothing was written") || !strings.Contains(out, "imported   2\n") {
		t.Errorf("dry run summary: got\n%s", out)
	}
	if d := decision(t, dir, magnets, "carol@example.com"); d.Basis != consent.BasisNone {
		t.Errorf("may-email after a dry run: got %+v, want none", d)
	}
	// The real import afterwards imports both.
	if code, out, _ := unbundled(t, dir, magnets, importArgs(file, "-json")...); code != 0 || !strings.Contains(out, `"imported":2`) {
		t.Errorf("import after the dry run: exit %d, %s", code, out)
	}
}

func TestImportSkipsPeopleWhoObjected(t *testing.T) {
	dir, magnets := ledgerDir(t)
	if code, _, errs := unbundled(t, dir, magnets, "object", "carol@example.com"); code != 0 {
		t.Fatalf("object: exit %d, stderr %s", code, errs)
	}
	file := writeFile(t, "customers.csv", customersHeader+carolRow+daveRow)
	code, out, errs := unbundled(t, dir, magnets, importArgs(file)...)
	if code != 0 {
		t.Fatalf("import: exit %d, stderr %s", code, errs)
	}
	if !strings.Contains(out, "imported   1\n") || !strings.Contains(out, "skipped    1 (never re-added)\n") {
		t.Errorf("summary: got\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^row 2\tcarol@example\.com\tobjected \d{4}-\d\d-\d\d: never re-added$`).MatchString(out) {
		t.Errorf("summary does not list carol's row as skipped:\n%s", out)
	}
	if d := decision(t, dir, magnets, "carol@example.com"); d.Allowed || d.Basis != consent.BasisObjected {
		t.Errorf("may-email carol: got %+v, want still objected", d)
	}
}

func TestImportProgress(t *testing.T) {
	dir, magnets := ledgerDir(t)
	var b strings.Builder
	b.WriteString(customersHeader)
	for i := range 1001 {
		fmt.Fprintf(&b, "person%d@example.com,,soft_opt_in,2026-01-15,INV-%d,compliance guides,unticked box at checkout\n", i, i)
	}
	code, _, errs := unbundled(t, dir, magnets, importArgs(writeFile(t, "customers.csv", b.String()), "-dry-run")...)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	if want := "checked 500/1001 rows\nchecked 1000/1001 rows\nchecked 1001/1001 rows\n"; errs != want {
		t.Errorf("progress: got %q, want %q", errs, want)
	}
}

func TestEraseThenMayEmailAndImport(t *testing.T) {
	dir, magnets := ledgerDir(t)
	code, out, errs := unbundled(t, dir, magnets, "erase", "-reason", "erasure request by email, 2 December 2026", "ann@example.com", "not an address")
	if code != 1 {
		t.Errorf("exit: got %d, want 1 (one bad address); stderr %s", code, errs)
	}
	if !strings.Contains(errs, `"not an address"`) {
		t.Errorf("stderr %q does not name the bad address", errs)
	}
	if !regexp.MustCompile(`^ann@example\.com\terased: [1-9]\d* events?, \d+ claims?, \d+ jobs?; tombstone kept\n$`).MatchString(out) {
		t.Errorf("erase output: got %q", out)
	}
	d := decision(t, dir, magnets, "ann@example.com")
	if d.Allowed || !regexp.MustCompile(`^erased \d{4}-\d\d-\d\d \(erasure request by email, 2 December 2026\)`).MatchString(d.Reason) {
		t.Errorf("may-email after erasure: got %+v, want not allowed, erased", d)
	}

	code, out, _ = unbundled(t, dir, magnets, "erase", "-json", "-reason", "asked again", "ann@example.com")
	var again struct {
		Address   string
		Already   bool
		Erased    consent.Erased
		Tombstone consent.Tombstone
	}
	if err := json.Unmarshal([]byte(out), &again); err != nil || code != 0 {
		t.Fatalf("erase again: exit %d, %v: %q", code, err, out)
	}
	if !again.Already || again.Erased != (consent.Erased{}) || again.Tombstone.Reason != "erasure request by email, 2 December 2026" {
		t.Errorf("erase again: got %+v, want already erased, nothing removed, the first tombstone kept", again)
	}
	code, out, _ = unbundled(t, dir, magnets, "erase", "-reason", "asked again", "ann@example.com")
	if code != 0 || !regexp.MustCompile(`^ann@example\.com\talready erased \d{4}-\d\d-\d\d: nothing more to remove\n$`).MatchString(out) {
		t.Errorf("erase again (text): exit %d, %q", code, out)
	}

	file := writeFile(t, "customers.csv", customersHeader+"ann@example.com,Ann,soft_opt_in,2026-01-15,INV-1,compliance guides,unticked box at checkout\n"+daveRow)
	code, out, errs = unbundled(t, dir, magnets, importArgs(file)...)
	if code != 0 {
		t.Fatalf("import: exit %d, stderr %s", code, errs)
	}
	if !regexp.MustCompile(`(?m)^row 2\tann@example\.com\terased \d{4}-\d\d-\d\d: never re-added$`).MatchString(out) || !strings.Contains(out, "imported   1\n") {
		t.Errorf("import after erasure: got\n%s\nwant ann's row skipped as erased, dave imported", out)
	}
	if d := decision(t, dir, magnets, "ann@example.com"); d.Allowed {
		t.Errorf("may-email after the import: got %+v, want still erased", d)
	}
}

func TestEraseUsage(t *testing.T) {
	dir, magnets := ledgerDir(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no reason", []string{"erase", "ann@example.com"}, 2, "say why with -reason"},
		{"a reason over two lines", []string{"erase", "-reason", "a\nb", "ann@example.com"}, 2, "-reason: The reason must be one line"},
		{"no address", []string{"erase", "-reason", "request"}, 2, "name at least one address"},
		{"help", []string{"erase", "-h"}, 0, "Usage: unbundled erase [flags] ADDRESS..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := unbundled(t, dir, magnets, tt.args...)
			if code != tt.wantCode || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("got exit %d, stderr %q; want exit %d and stderr containing %q", code, errs, tt.wantCode, tt.wantErr)
			}
		})
	}
	if d := decision(t, dir, magnets, "ann@example.com"); !d.Allowed {
		t.Errorf("may-email ann after refused erasures: got %+v, want still allowed", d)
	}
}

func TestSuppressionList(t *testing.T) {
	dir, magnets := ledgerDir(t)
	code, out, errs := unbundled(t, dir, magnets, "suppression", "list")
	if code != 0 || out != "email,status,purpose,since,method\n" {
		t.Errorf("nobody left yet: exit %d, %q, stderr %s; want the header alone", code, out, errs)
	}
	if code, _, errs := unbundled(t, dir, magnets, "object", "bob@example.com"); code != 0 {
		t.Fatalf("object: exit %d, stderr %s", code, errs)
	}
	code, out, errs = unbundled(t, dir, magnets, "suppression", "list")
	if code != 0 || !regexp.MustCompile(`^email,status,purpose,since,method\nbob@example\.com,objected,,\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ,operator\n$`).MatchString(out) {
		t.Errorf("CSV: exit %d, %q, stderr %s", code, out, errs)
	}
	code, out, _ = unbundled(t, dir, magnets, "suppression", "list", "-json")
	var s consent.Suppression
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != 0 {
		t.Fatalf("-json: exit %d, %v: %q", code, err, out)
	}
	if s.Email != "bob@example.com" || s.Status != consent.EventObjected || s.Purpose != "" || s.Method != consent.MethodOperator || s.Since.IsZero() {
		t.Errorf("-json: got %+v, want bob objected", s)
	}
}

func TestSuppressionUsage(t *testing.T) {
	dir, magnets := ledgerDir(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"no command", []string{"suppression"}, 2, "Usage: unbundled suppression COMMAND"},
		{"unknown command", []string{"suppression", "purge", "a@example.com"}, 2, `unknown command "purge"`},
		{"help", []string{"suppression", "-h"}, 0, "list "},
		{"list help", []string{"suppression", "list", "-h"}, 0, "Usage: unbundled suppression list [flags]"},
		{"list with an operand", []string{"suppression", "list", "bob@example.com"}, 2, `unexpected "bob@example.com"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code, errs := run(context.Background(), tt.args, &out, &errb), errb.String()
			if len(tt.args) > 1 && tt.args[1] == "list" {
				code, _, errs = unbundled(t, dir, magnets, tt.args...)
			}
			if code != tt.wantCode || !strings.Contains(errs, tt.wantErr) {
				t.Errorf("got exit %d, stderr %q; want exit %d and stderr containing %q", code, errs, tt.wantCode, tt.wantErr)
			}
		})
	}
}

// The help names every column the parser takes, so the two cannot drift.
func TestImportHelpNamesEveryColumn(t *testing.T) {
	for _, c := range consent.ImportColumns {
		if !strings.Contains(importColumnsHelp, c) {
			t.Errorf("import -h does not name column %q", c)
		}
	}
}
