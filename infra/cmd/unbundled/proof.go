package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/unbundled/unbundled/shared/consent"
)

// proof prints the proof-of-consent report on one person
// (consent.Service.Proof): as text by default, as a self-contained,
// printable HTML page with -html, or as JSON with -json.
func proof(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("proof", operandAddress, `Prints a proof-of-consent report on the person with this address, for you or to hand to the
regulator (ICO) or the person: who they are, every event of their record in order with the server
time, where it came from (magnet, page, import), the method, IP address and browser, the exact
consent wording they were shown and the privacy notice in force (quoted from the archive), their
confirmation, withdrawals and objections, the emails sent to them, and whether they may be emailed
now. Text by default; -html writes one self-contained page to save and print
(unbundled proof -html ann@example.com > proof.html); -json for tools.`, stderr)
	asHTML := c.fs.Bool("html", false, "write a self-contained, printable HTML page")
	asJSON := c.fs.Bool("json", false, "write JSON")
	if ok, code := c.parse(args); !ok {
		return code
	}
	if *asHTML && *asJSON {
		c.errorf("choose one of -html and -json")
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
	p, err := svc.Proof(ctx, address)
	var verr *consent.ValidationError
	switch {
	case errors.As(err, &verr):
		c.errorf("%q: %s", address, fieldMessages(verr))
		return 1
	case err != nil:
		c.errorf("%q: %v", address, err)
		return 1
	}
	switch {
	case *asHTML:
		err = p.WriteHTML(stdout)
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(p)
	default:
		err = p.WriteText(stdout)
	}
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	return 0
}
