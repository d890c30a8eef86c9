package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/unbundled/unbundled/shared/consent"
)

// progressEvery is how many rows pass between progress lines on stderr.
const progressEvery = 500

// importContacts records existing customers (soft opt-in) or business
// contacts (corporate) from a CSV or JSON file, with consent.Service.Import:
// every row is checked before any is written, and a file with any problem
// is refused whole. It prints what was imported, what was already imported
// from this file, and which rows were skipped and why (people who left are
// never re-added); with -json, the report as one JSON object.
func importContacts(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("import", operandFile, `Records existing contacts from FILE (.csv or .json) with the basis each row claims — soft_opt_in
for your customers, corporate for contacts at companies — and the evidence for it. Every row is
checked first: if any row has a problem, every problem is listed and nothing is imported. People
who withdrew, objected, bounced, complained or were erased are never re-added: their rows are
skipped and listed. Importing the same file again changes nothing.

CSV: a header row naming columns (email and basis required), in any order, from
`+importColumnsHelp+`
JSON: {"source": …, "origin": …, "contacts": [{"email": …, "basis": …, …}]}.`, stderr)
	source := c.fs.String("source", "", "where the contacts came from, in your words, e.g. \"orders in our web shop, 2024-2026\" (required unless the JSON file says)")
	origin := c.fs.String("origin", "", "how you got them: "+consent.OriginCustomers+" or "+consent.OriginBusinessContacts+" (bought or rented lists are refused; required unless the JSON file says)")
	operator := c.fs.String("operator", defaultOperator(), "who runs the import, recorded on every imported event")
	dryRun := c.fs.Bool("dry-run", false, "check the file and report what would happen, writing nothing")
	asJSON := c.fs.Bool("json", false, "print the report as one JSON object")
	if ok, code := c.parse(args); !ok {
		return code
	}
	path := c.fs.Arg(0)
	data, err := readImportFile(path)
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	file, err := consent.ParseImport(path, data, *source, *origin)
	if err != nil {
		return c.importFailed(err)
	}
	svc, closeStore, err := c.ledger.open(ctx)
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	defer closeStore()

	verb := "imported"
	if *dryRun {
		verb = "checked"
	}
	progress := func(done, total int) {
		if total >= progressEvery && (done%progressEvery == 0 || done == total) {
			fmt.Fprintf(stderr, "%s %d/%d rows\n", verb, done, total)
		}
	}
	rep, err := svc.Import(ctx, file, consent.ImportOptions{Operator: *operator, DryRun: *dryRun, Progress: progress})
	if err != nil {
		return c.importFailed(err)
	}
	if rep.Skipped == nil {
		rep.Skipped = []consent.ImportSkip{}
	}
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(rep); err != nil {
			c.errorf("%v", err)
			return 1
		}
		return 0
	}
	if err := printImportReport(stdout, rep); err != nil {
		c.errorf("%v", err)
		return 1
	}
	return 0
}

// importFailed reports a failed import: every problem of a refused file,
// one per line, or the error that stopped it.
func (c *command) importFailed(err error) int {
	var refused *consent.ImportError
	if errors.As(err, &refused) {
		for _, p := range refused.Problems {
			fmt.Fprintln(c.stderr, p)
		}
		c.errorf("nothing was imported: %d problem(s) to fix in the file or flags", len(refused.Problems))
		return 1
	}
	// Rows before the failing one are written; running the same file
	// again completes the import without repeating them.
	c.errorf("%v (run the same file again to complete the import)", err)
	return 1
}

// readImportFile reads at most one byte more than an import may hold, so
// an oversized file is refused by ParseImport without reading all of it.
func readImportFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, consent.MaxImportBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

func printImportReport(w io.Writer, rep consent.ImportReport) error {
	if rep.DryRun {
		fmt.Fprintln(w, "dry run: nothing was written; an import would do this")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "file\t%s (sha256 %s)\n", rep.File, rep.Digest)
	fmt.Fprintf(tw, "source\t%s\n", rep.Source)
	fmt.Fprintf(tw, "origin\t%s\n", rep.Origin)
	fmt.Fprintf(tw, "operator\t%s\n", rep.Operator)
	fmt.Fprintf(tw, "rows\t%d\n", rep.Rows)
	fmt.Fprintf(tw, "imported\t%d\n", rep.Imported)
	fmt.Fprintf(tw, "unchanged\t%d (already imported from this file)\n", rep.Unchanged)
	fmt.Fprintf(tw, "skipped\t%d (never re-added)\n", len(rep.Skipped))
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range rep.Skipped {
		if _, err := fmt.Fprintf(w, "row %d\t%s\t%s\n", s.Row, s.Email, s.Reason); err != nil {
			return err
		}
	}
	return nil
}

// importColumnsHelp names the CSV columns, as the README lists them.
const importColumnsHelp = `  email, name, basis (soft_opt_in or corporate), purposes (ids, space-separated; default:
  every purpose whose product categories include the row's, or for corporate the one
  controller-wide purpose), sale_date, sale_reference, category, opt_out_offered (soft_opt_in),
  organisation, company_number, organisation_kind, role, lia_reference (corporate).`

// defaultOperator is who runs the command: $USER@hostname, or "operator".
func defaultOperator() string {
	user := os.Getenv("USER")
	if user == "" {
		return "operator"
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		return user + "@" + host
	}
	return user
}
