package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/unbundled/unbundled/shared/consent"
)

// mayEmail prints, per address, whether marketing email may be sent for the
// purpose, the basis and the reason; one JSON object per line with -json.
// An address that cannot be decided (not a valid address) is reported on
// stderr and makes the exit code 1; the others are still answered.
func mayEmail(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("may-email", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var lf ledgerFlags
	lf.register(fs)
	purpose := fs.String("purpose", "", "purpose id, e.g. marketing:acme-ltd (default: the configuration's one controller-wide marketing purpose)")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: unbundled may-email [flags] ADDRESS...\n\nSays, per address, whether marketing email may be sent, on what basis (consent or none) and why.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "unbundled may-email: name at least one address")
		fs.Usage()
		return 2
	}
	svc, closeStore, err := lf.open(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "unbundled may-email:", err)
		return 1
	}
	defer closeStore()

	code := 0
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	enc := json.NewEncoder(stdout)
	for _, address := range fs.Args() {
		d, err := svc.MayEmail(ctx, address, *purpose)
		var verr *consent.ValidationError
		switch {
		case errors.As(err, &verr):
			fmt.Fprintf(stderr, "unbundled may-email: %q: %s\n", address, fieldMessages(verr))
			code = 1
			continue
		case err != nil:
			fmt.Fprintf(stderr, "unbundled may-email: %q: %v\n", address, err)
			return 1
		}
		if *asJSON {
			if err := enc.Encode(struct {
				Address string `json:"address"`
				consent.Decision
			}{address, d}); err != nil {
				fmt.Fprintln(stderr, "unbundled may-email:", err)
				return 1
			}
			continue
		}
		allowed := "no"
		if d.Allowed {
			allowed = "yes"
		}
		fmt.Fprintf(tw, "%s\tallowed=%s\tbasis=%s\t%s\n", address, allowed, d.Basis, d.Reason)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(stderr, "unbundled may-email:", err)
		return 1
	}
	return code
}

func fieldMessages(verr *consent.ValidationError) string {
	var s string
	for _, m := range verr.Fields {
		if s != "" {
			s += " "
		}
		s += m
	}
	return s
}
