package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/unbundled/unbundled/infra/internal/storeflag"
	"github.com/unbundled/unbundled/shared/consent"
)

// mayEmail prints, per address, whether marketing email may be sent for the
// purpose, the basis and the reason; one JSON object per line with -json.
// An address that cannot be decided (not a valid address) is reported on
// stderr and makes the exit code 1; the others are still answered.
func mayEmail(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newAddressCommand("may-email", "Says, per address, whether marketing email may be sent, on what basis (consent, objected or none) and why.", stderr)
	purpose := c.fs.String("purpose", "", "purpose id, e.g. marketing:acme-ltd (default: the configuration's one controller-wide marketing purpose)")
	asJSON := c.fs.Bool("json", false, "print one JSON object per line")
	if ok, code := c.parse(args); !ok {
		return code
	}
	svc, closeStore, err := c.ledger.open(ctx)
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	defer closeStore()
	if c.ledger.store == storeflag.DynamoDB && c.ledger.baseURL == "" {
		// An allowed answer carries the opt-out link the message must hold:
		// it has to point at the stack, never at a local default.
		c.errorf("-store dynamodb needs -base-url (the stack's PublicBaseURL, else its ApiUrl output) for the opt-out links")
		return 2
	}

	code := 0
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	enc := json.NewEncoder(stdout)
	for _, address := range c.fs.Args() {
		d, err := svc.MayEmail(ctx, address, *purpose)
		var verr *consent.ValidationError
		switch {
		case errors.As(err, &verr):
			c.errorf("%q: %s", address, fieldMessages(verr))
			code = 1
			continue
		case err != nil:
			c.errorf("%q: %v", address, err)
			return 1
		}
		if *asJSON {
			if err := enc.Encode(struct {
				Address string `json:"address"`
				consent.Decision
			}{address, d}); err != nil {
				c.errorf("%v", err)
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
		c.errorf("%v", err)
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
