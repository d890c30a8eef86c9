package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/unbundled/unbundled/shared/consent"
)

const suppressionUsage = `Usage: unbundled suppression COMMAND [flags]

  list    everyone who left — bounced, complained, objected or withdrew — as CSV
          for your other sending tools

Run "unbundled suppression COMMAND -h" for a command's flags.
`

// suppression runs a suppression-list command.
func suppression(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, suppressionUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "list":
		return suppressionList(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "unbundled suppression: unknown command %q\n\n%s", args[0], suppressionUsage)
		return 2
	}
}

// suppressionList prints everyone who left (consent.Service.SuppressionList)
// as CSV with a header row — email, status, purpose (empty: everything),
// since, method — or one JSON object per line with -json.
func suppressionList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("suppression list", operandNone, `Prints everyone your other sending tools must not mail, sorted by address: permanent bounces and
complaints (status suppressed: no mail of any kind), objections (objected: no marketing, ever), and
withdrawals not since opted in again (withdrawn: no marketing for the purpose; an empty purpose
means every purpose). Erased people are not listed: nothing of them is kept. It reads the whole
ledger.`, stderr)
	asJSON := c.fs.Bool("json", false, "print one JSON object per line instead of CSV")
	if ok, code := c.parse(args); !ok {
		return code
	}
	svc, closeStore, err := c.ledger.open(ctx)
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	defer closeStore()
	list, err := svc.SuppressionList(ctx)
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	if !*asJSON {
		err = consent.WriteSuppressionCSV(stdout, list)
	} else {
		enc := json.NewEncoder(stdout)
		for _, s := range list {
			if err = enc.Encode(s); err != nil {
				break
			}
		}
	}
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	return 0
}
