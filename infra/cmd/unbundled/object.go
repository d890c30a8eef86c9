package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/unbundled/unbundled/shared/consent"
)

// object records, per address, the person's objection to direct marketing:
// permanent, for every purpose, beating any later sign-up or import. With
// -json it prints one JSON object per line, as POST /admin/object answers
// per address: {"address", "recorded": true|false (already objected)}, or
// {"address", "error"} for an address that is not valid (also reported on
// stderr, and the exit code is 1).
func object(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newAddressCommand("object", "Records that each person objects to direct marketing (by letter, phone or email to you):\nno marketing for any purpose, ever, whatever is signed up or imported later. Their freebies\nstill go out. Recording an objection twice changes nothing.", stderr)
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
	code := 0
	enc := json.NewEncoder(stdout)
	for _, address := range c.fs.Args() {
		written, err := svc.RecordObjection(ctx, address, consent.MethodOperator, consent.Evidence{})
		var verr *consent.ValidationError
		switch {
		case errors.As(err, &verr):
			c.errorf("%q: %s", address, fieldMessages(verr))
			code = 1
			if *asJSON {
				if err := enc.Encode(objectLine{Address: address, Error: fieldMessages(verr)}); err != nil {
					c.errorf("%v", err)
					return 1
				}
			}
		case err != nil:
			c.errorf("%q: %v", address, err)
			return 1
		case *asJSON:
			if err := enc.Encode(objectLine{Address: address, Recorded: &written}); err != nil {
				c.errorf("%v", err)
				return 1
			}
		case written:
			fmt.Fprintf(stdout, "%s\tobjection recorded: no marketing, ever\n", address)
		default:
			fmt.Fprintf(stdout, "%s\talready objected: nothing changed\n", address)
		}
	}
	return code
}

// objectLine is one line of `unbundled object -json`: whether the
// objection was recorded now (false: already objected), or why the address
// is not valid.
type objectLine struct {
	Address  string `json:"address"`
	Recorded *bool  `json:"recorded,omitempty"`
	Error    string `json:"error,omitempty"`
}
