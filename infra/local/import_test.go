package main_test

import (
	"bufio"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/unbundled/unbundled/shared/consent"
)

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
	cliOut  []byte
)

// buildCLI builds the operator command once, next to the local server
// binary TestMain built, and returns its path.
func buildCLI(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		cliPath = filepath.Join(filepath.Dir(binary), "unbundled")
		cliOut, cliErr = exec.Command("go", "build", "-o", cliPath, "../cmd/unbundled").CombinedOutput()
	})
	if cliErr != nil {
		t.Fatalf("build unbundled: %v\n%s", cliErr, cliOut)
	}
	return cliPath
}

// cli runs the operator command and returns its stdout; it fails t unless
// the command exits 0.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(buildCLI(t), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("unbundled %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// magnetsWithCategories writes magnets.json with product_categories added
// to each magnet, so customers can be imported with a soft opt-in.
func magnetsWithCategories(t *testing.T, categories ...string) string {
	t.Helper()
	data, err := os.ReadFile("magnets.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Magnets []map[string]any `json:"magnets"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatalf("magnets.json: %v", err)
	}
	for _, m := range file.Magnets {
		m["product_categories"] = categories
	}
	if data, err = json.Marshal(file); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "magnets.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const contactsCSV = "email,name,basis,sale_date,sale_reference,category,opt_out_offered,organisation,company_number,role,lia_reference\n" +
	"carol@example.com,Carol,soft_opt_in,2026-01-15,INV-1001,compliance guides,unticked box at checkout,,,,\n" +
	"dave@example.com,,soft_opt_in,2026-02-03,INV-1002,compliance guides,unticked box at checkout,,,,\n" +
	"erin@corp.example,,corporate,,,,,Corp Ltd,01234567,Head of Compliance,LIA-2026-01\n"

const contactsSource = "orders in our web shop, 2024-2026"

// TestAdminImportEndpointAndCommandAgree imports one file into two local
// stores of the same kind, once by POST /admin/import and once by
// `unbundled import`, after the same objection in each, and wants the same
// report from both — dry run and real — but for who ran it.
func TestAdminImportEndpointAndCommandAgree(t *testing.T) {
	magnets := magnetsWithCategories(t, "compliance guides")
	viaEndpoint, viaCommand := t.TempDir(), t.TempDir()
	s := start(t, viaEndpoint, "-magnets", magnets)
	// The command needs a data directory the local server made (keys and
	// ledger); it then runs on its own.
	start(t, viaCommand, "-magnets", magnets).stop()

	if resp, out := s.do(t, "POST", "/admin/object", "application/json", `{"addresses":["dave@example.com"]}`); resp.StatusCode != 200 {
		t.Fatalf("POST /admin/object: %d %s", resp.StatusCode, out)
	}
	cli(t, "object", "-data", viaCommand, "-magnets", magnets, "dave@example.com")

	file := filepath.Join(t.TempDir(), "contacts.csv")
	if err := os.WriteFile(file, []byte(contactsCSV), 0o600); err != nil {
		t.Fatal(err)
	}
	query := "/admin/import?file=contacts.csv&origin=customers&source=" + url.QueryEscape(contactsSource)
	for _, dryRun := range []bool{true, false} {
		target, flags := query, []string{"import", "-json", "-data", viaCommand, "-magnets", magnets, "-source", contactsSource, "-origin", "customers", "-operator", "tester"}
		if dryRun {
			target, flags = target+"&dry_run=true", append(flags, "-dry-run")
		}
		resp, out := s.do(t, "POST", target, "text/csv", contactsCSV)
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d %s", target, resp.StatusCode, out)
		}
		var fromEndpoint, fromCommand consent.ImportReport
		if err := json.Unmarshal([]byte(out), &fromEndpoint); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if out := cli(t, append(flags, file)...); json.Unmarshal([]byte(out), &fromCommand) != nil {
			t.Fatalf("unbundled import -json: %s", out)
		}
		if fromEndpoint.Operator != "local" || fromCommand.Operator != "tester" {
			t.Errorf("operators: endpoint %q, command %q; want local:127.0.0.1:<port> and tester", fromEndpoint.Operator, fromCommand.Operator)
		}
		fromEndpoint.Operator, fromCommand.Operator = "", ""
		a, _ := json.Marshal(fromEndpoint)
		b, _ := json.Marshal(fromCommand)
		if string(a) != string(b) {
			t.Errorf("dry run %v: reports differ:\nendpoint: %s\ncommand:  %s", dryRun, a, b)
		}
		if fromCommand.DryRun != dryRun || fromCommand.Rows != 3 || fromCommand.Imported != 2 || len(fromCommand.Skipped) != 1 ||
			fromCommand.Skipped[0].Email != "dave@example.com" || !strings.HasPrefix(fromCommand.Skipped[0].Reason, "objected ") {
			t.Errorf("dry run %v: report %s, want carol and erin imported, dave skipped (objected)", dryRun, b)
		}
	}

	// Both stores now answer the same: carol on a soft opt-in, erin as a
	// corporate contact, dave objected.
	addresses := []string{"carol@example.com", "dave@example.com", "erin@corp.example"}
	req, _ := json.Marshal(map[string]any{"addresses": addresses})
	resp, out := s.do(t, "POST", "/admin/may-email", "application/json", string(req))
	if resp.StatusCode != 200 {
		t.Fatalf("POST /admin/may-email: %d %s", resp.StatusCode, out)
	}
	var fromEndpoint struct{ Decisions []decision }
	if err := json.Unmarshal([]byte(out), &fromEndpoint); err != nil {
		t.Fatal(err)
	}
	var bases []string
	for _, d := range fromEndpoint.Decisions {
		bases = append(bases, d.Basis)
	}
	if got := strings.Join(bases, ","); got != "soft_opt_in,objected,corporate" {
		t.Errorf("bases after the import: got %s, want soft_opt_in,objected,corporate", got)
	}
	sc := bufio.NewScanner(strings.NewReader(cli(t, append([]string{"may-email", "-json", "-data", viaCommand, "-magnets", magnets}, addresses...)...)))
	for i := 0; sc.Scan(); i++ {
		var d decision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil || i >= len(fromEndpoint.Decisions) || d != fromEndpoint.Decisions[i] {
			t.Errorf("may-email line %d: command %s, endpoint %+v", i, sc.Text(), fromEndpoint.Decisions)
		}
	}

	// The imported event names the operator who sent the file.
	resp, out = s.do(t, "GET", "/_local/ledger.json?email=carol%40example.com", "", "")
	var ledger []consent.Event
	if err := json.Unmarshal([]byte(out), &ledger); err != nil || resp.StatusCode != 200 {
		t.Fatalf("ledger.json: %d %s", resp.StatusCode, out)
	}
	if len(ledger) != 1 || ledger[0].Type != consent.EventImported || ledger[0].Import.Operator != "local" ||
		ledger[0].Import.File != "contacts.csv" || ledger[0].Import.Source != contactsSource || ledger[0].Import.Row != 2 {
		t.Errorf("carol's ledger: got %+v, want one imported event citing the file, row 2 and the endpoint's operator", ledger)
	}
}

// TestAdminSuppressionListsObjection records an objection with POST
// /admin/object and finds it in GET /admin/suppression — CSV and JSON —
// and in `unbundled suppression list` on the same data directory.
func TestAdminSuppressionListsObjection(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	resp, out := s.do(t, "POST", "/admin/object", "application/json", `{"addresses":["Frank@Example.com","nope"]}`)
	if want := `{"results":[{"address":"Frank@Example.com","recorded":true},{"address":"nope","error":"Enter a valid email address, like name@example.com."}]}`; resp.StatusCode != 200 || strings.TrimSpace(out) != want {
		t.Fatalf("POST /admin/object: %d %s, want 200 %s", resp.StatusCode, out, want)
	}

	resp, csv := s.do(t, "GET", "/admin/suppression", "", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="suppression.csv"` {
		t.Fatalf("GET /admin/suppression: %d %v\n%s", resp.StatusCode, resp.Header, csv)
	}
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) != 2 || lines[0] != "email,status,purpose,since,method" || !strings.HasPrefix(lines[1], "frank@example.com,objected,,") || !strings.HasSuffix(lines[1], ",operator") {
		t.Errorf("suppression CSV: got\n%s\nwant the header and frank@example.com objected by the operator", csv)
	}
	if fromCommand := cli(t, "suppression", "list", "-data", dir, "-magnets", "magnets.json"); fromCommand != csv {
		t.Errorf("unbundled suppression list differs from the endpoint:\ncommand:\n%s\nendpoint:\n%s", fromCommand, csv)
	}

	resp, out = s.do(t, "GET", "/admin/suppression?format=json", "", "")
	var got struct{ Suppressions []consent.Suppression }
	if err := json.Unmarshal([]byte(out), &got); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /admin/suppression?format=json: %d %s", resp.StatusCode, out)
	}
	if len(got.Suppressions) != 1 || got.Suppressions[0].Email != "frank@example.com" || got.Suppressions[0].Status != consent.EventObjected {
		t.Errorf("suppression JSON: got %+v, want frank objected", got.Suppressions)
	}
}
