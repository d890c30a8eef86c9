// Command unbundled is the operator's tool: it answers questions about the
// ledger and records what only the operator hears of, without a developer.
// may-email says whether marketing email may be sent to an address, on what
// basis and why; object records a person's objection to direct marketing;
// import records existing customers (soft opt-in) and business contacts
// (corporate) from a file; erase carries out the right to erasure;
// suppression list exports everyone who left, for other sending tools; and
// records prints the record of processing activities and the
// privacy-notice facts from the configuration. proof, export and rectify
// answer a person's or the regulator's request about one person; audit
// exports the consent events of a period; suppression add, remove and
// check change and explain suppressions; and jobs list and retry recover
// deliveries that failed (after a fixed SES setup, say). retention run
// applies the retention policy, as the deployed stack does once a day.
//
//	unbundled may-email [flags] ADDRESS...
//	unbundled object [flags] ADDRESS...
//	unbundled import [flags] FILE
//	unbundled erase [flags] -reason TEXT ADDRESS...
//	unbundled suppression list|add|remove|check [flags] ...
//	unbundled proof [flags] ADDRESS
//	unbundled export [flags] ADDRESS
//	unbundled rectify [flags] -name NAME ADDRESS
//	unbundled audit [flags] [-magnet ID] [-from DATE] [-to DATE]
//	unbundled jobs list|retry [flags] ...
//	unbundled records [flags]
//	unbundled retention run [-dry-run] [flags]
//
// It reads the same store as the local server (-data, -store, -table,
// -magnets). Against a deployed stack (-store dynamodb) it uses the
// standard AWS configuration and the stack's own key secrets, never a copy.
// Exit codes: 0 success, 1 failure, 2 usage error.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

const usage = `unbundled: the operator's tool for the consent ledger

Usage:
  unbundled may-email [flags] ADDRESS...            may marketing email be sent, on what basis, and why
  unbundled object [flags] ADDRESS...               record an objection to direct marketing (permanent)
  unbundled import [flags] FILE                     import customers (soft opt-in) or business contacts
                                                    (corporate) from a CSV or JSON file
  unbundled erase [flags] -reason TEXT ADDRESS...   erase everything held on a person; a tombstone stays
  unbundled suppression list [flags]                everyone who left, as CSV for other sending tools
  unbundled suppression add|remove|check [flags] ADDRESS...
                                                    suppress an address, lift a suppression, or say
                                                    whether and why one is suppressed
  unbundled proof [flags] ADDRESS                   proof of consent: the person's record for the
                                                    regulator, as text, printable HTML (-html) or JSON
  unbundled export [flags] ADDRESS                  everything held on the person, as JSON (right of access)
  unbundled rectify [flags] -name NAME ADDRESS      correct the name held on a person
  unbundled audit [flags]                           consent events of a period, as CSV (-magnet, -from, -to)
  unbundled jobs list [-failed] [flags]             delivery jobs; those that failed
  unbundled jobs retry [flags] ID... | -all-failed  send failed jobs again once the cause is fixed
  unbundled records [flags]                         the record of processing activities and the privacy-notice
                                                    facts, from the configuration (-json, -html)
  unbundled retention run [-dry-run] [flags]        apply the retention policy now: erase people past their
                                                    period (a tombstone stays), minimise old evidence

Run "unbundled COMMAND -h" for a command's flags.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run runs one command and returns the process exit code: 0 on success, 1
// when the command failed, 2 for a usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "may-email":
		return mayEmail(ctx, args[1:], stdout, stderr)
	case "object":
		return object(ctx, args[1:], stdout, stderr)
	case "import":
		return importContacts(ctx, args[1:], stdout, stderr)
	case "erase":
		return erase(ctx, args[1:], stdout, stderr)
	case "suppression":
		return suppression(ctx, args[1:], stdout, stderr)
	case "proof":
		return proof(ctx, args[1:], stdout, stderr)
	case "export":
		return export(ctx, args[1:], stdout, stderr)
	case "rectify":
		return rectify(ctx, args[1:], stdout, stderr)
	case "audit":
		return audit(ctx, args[1:], stdout, stderr)
	case "jobs":
		return jobs(ctx, args[1:], stdout, stderr)
	case "records":
		return records(ctx, args[1:], stdout, stderr)
	case "retention":
		return retention(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "unbundled: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
