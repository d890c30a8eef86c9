package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/unbundled/unbundled/shared/consent"
)

// object records, per address, the person's objection to direct marketing:
// permanent, for every purpose, beating any later sign-up or import.
func object(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("object", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var lf ledgerFlags
	lf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: unbundled object [flags] ADDRESS...\n\nRecords that each person objects to direct marketing (by letter, phone or email to you):\nno marketing for any purpose, ever, whatever is signed up or imported later. Their freebies\nstill go out. Recording an objection twice changes nothing.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "unbundled object: name at least one address")
		fs.Usage()
		return 2
	}
	svc, closeStore, err := lf.open(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "unbundled object:", err)
		return 1
	}
	defer closeStore()
	code := 0
	for _, address := range fs.Args() {
		written, err := svc.RecordObjection(ctx, address, consent.MethodOperator, consent.Evidence{})
		var verr *consent.ValidationError
		switch {
		case errors.As(err, &verr):
			fmt.Fprintf(stderr, "unbundled object: %q: %s\n", address, fieldMessages(verr))
			code = 1
		case err != nil:
			fmt.Fprintf(stderr, "unbundled object: %q: %v\n", address, err)
			return 1
		case written:
			fmt.Fprintf(stdout, "%s\tobjection recorded: no marketing, ever\n", address)
		default:
			fmt.Fprintf(stdout, "%s\talready objected: nothing changed\n", address)
		}
	}
	return code
}
