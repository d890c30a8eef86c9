package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/unbundled/unbundled/shared/consent"
)

// export prints everything held on one person (consent.Service.Export, the
// right of access) as JSON.
func export(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("export", operandAddress, `Prints everything held on the person with this address, as JSON (the right of access, UK GDPR
Art. 15): their whole record with every piece of evidence, whether each purpose may email them and
why, and the emails queued about them. For someone erased, only that they were: nothing else is
kept. Give the person this file, or the readable report "unbundled proof".`, stderr)
	c.fs.Bool("json", true, "write JSON (the only format; accepted for uniformity)")
	compact := c.fs.Bool("compact", false, "one line of JSON instead of indented")
	if ok, code := c.parse(args); !ok {
		return code
	}
	svc, closeStore, err := c.ledger.open(ctx)
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	defer closeStore()
	address := c.fs.Arg(0)
	x, err := svc.Export(ctx, address)
	var verr *consent.ValidationError
	switch {
	case errors.As(err, &verr):
		c.errorf("%q: %s", address, fieldMessages(verr))
		return 1
	case err != nil:
		c.errorf("%q: %v", address, err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	if !*compact {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(x); err != nil {
		c.errorf("%v", err)
		return 1
	}
	return 0
}
