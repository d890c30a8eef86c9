package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/unbundled/unbundled/shared/consent"
)

// rectify corrects the name held on one person (consent.Service.Rectify):
// a `rectified` event, method operator.
func rectify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("rectify", operandAddress, `Corrects the name held on the person with this address (the right to rectification): the change
is recorded as a new event, method operator, and emails greet them by the new name from then on.
-name "" removes the name. The earlier name stays in the record as what was given then.`, stderr)
	name := c.fs.String("name", "", `the correct name (required; "" removes the name)`)
	asJSON := c.fs.Bool("json", false, "print a JSON object")
	if ok, code := c.parse(args); !ok {
		return code
	}
	named := false
	c.fs.Visit(func(f *flag.Flag) {
		if f.Name == "name" {
			named = true
		}
	})
	if !named {
		c.errorf(`give the correct name with -name, e.g. -name "Ann Lee" (-name "" removes it)`)
		c.fs.Usage()
		return 2
	}
	svc, closeStore, err := c.ledger.open(ctx)
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	defer closeStore()
	address := c.fs.Arg(0)
	*name = strings.TrimSpace(*name)
	written, err := svc.Rectify(ctx, address, *name, consent.Evidence{})
	var verr *consent.ValidationError
	switch {
	case errors.As(err, &verr) && verr.Fields["name"] != "":
		c.errorf("-name: %s", verr.Fields["name"])
		return 2
	case errors.As(err, &verr):
		c.errorf("%q: %s", address, fieldMessages(verr))
		return 1
	case err != nil:
		c.errorf("%q: %v", address, err)
		return 1
	}
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(map[string]any{"address": address, "rectified": written, "name": *name}); err != nil {
			c.errorf("%v", err)
			return 1
		}
		return 0
	}
	switch {
	case !written:
		fmt.Fprintf(stdout, "%s\tthe name held is already %q: nothing changed\n", address, *name)
	case *name == "":
		fmt.Fprintf(stdout, "%s\tname removed (recorded as a rectification)\n", address)
	default:
		fmt.Fprintf(stdout, "%s\tname corrected to %q (recorded as a rectification)\n", address, *name)
	}
	return 0
}
