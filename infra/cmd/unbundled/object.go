package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/unbundled/unbundled/shared/consent"
)

// object records, per address, the person's objection to direct marketing:
// permanent, for every purpose, beating any later sign-up or import.
func object(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newAddressCommand("object", "Records that each person objects to direct marketing (by letter, phone or email to you):\nno marketing for any purpose, ever, whatever is signed up or imported later. Their freebies\nstill go out. Recording an objection twice changes nothing.", stderr)
	if ok, code := c.parse(args); !ok {
		return code
	}
	svc, closeStore, err := c.ledger.open(ctx)
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	defer closeStore()
	code := 0
	for _, address := range c.fs.Args() {
		written, err := svc.RecordObjection(ctx, address, consent.MethodOperator, consent.Evidence{})
		var verr *consent.ValidationError
		switch {
		case errors.As(err, &verr):
			c.errorf("%q: %s", address, fieldMessages(verr))
			code = 1
		case err != nil:
			c.errorf("%q: %v", address, err)
			return 1
		case written:
			fmt.Fprintf(stdout, "%s\tobjection recorded: no marketing, ever\n", address)
		default:
			fmt.Fprintf(stdout, "%s\talready objected: nothing changed\n", address)
		}
	}
	return code
}
