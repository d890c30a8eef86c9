package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/unbundled/unbundled/shared/consent"
)

// erase carries out the right to erasure for each address: everything held
// on the person goes — ledger and evidence, claims, delivery jobs — and a
// tombstone (a keyed hash, the time and the reason) stays, so no import
// re-adds them. It prints per address what was removed; one JSON object
// per line with -json.
func erase(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newAddressCommand("erase", `Erases everything held on each person (right to erasure): their ledger with all its evidence,
claims and queued emails. Only a tombstone stays — a keyed hash of the address, when and why — so
no later import re-adds them. This cannot be undone: the proof of their consent goes too, and
may-email then answers "erased" for them. Erasing again removes only what was written since.`, stderr)
	reason := c.fs.String("reason", "", `why, kept with the tombstone, e.g. "erasure request by email, 2 December 2026" (required)`)
	asJSON := c.fs.Bool("json", false, "print one JSON object per line")
	if ok, code := c.parse(args); !ok {
		return code
	}
	if strings.TrimSpace(*reason) == "" {
		c.errorf("say why with -reason, e.g. -reason \"erasure request by email, 2 December 2026\"")
		c.fs.Usage()
		return 2
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
		e, err := svc.Erase(ctx, address, *reason)
		var verr *consent.ValidationError
		switch {
		case errors.As(err, &verr) && verr.Fields["reason"] != "":
			// Checked before anything is written: nothing was erased.
			c.errorf("-reason: %s", verr.Fields["reason"])
			return 2
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
				consent.Erasure
			}{address, e}); err != nil {
				c.errorf("%v", err)
				return 1
			}
			continue
		}
		fmt.Fprintf(stdout, "%s\t%s\n", address, erasureText(e))
	}
	return code
}

// erasureText says what one erasure did: "erased: 5 events, 2 claims, 1
// job; tombstone kept", or "already erased 2026-11-20: removed 1 more item".
func erasureText(e consent.Erasure) string {
	n := e.Erased
	if !e.Already {
		return fmt.Sprintf("erased: %s, %s, %s; tombstone kept", count(n.Events, "event"), count(n.Claims, "claim"), count(n.Jobs, "job"))
	}
	text := "already erased " + e.Tombstone.At.UTC().Format("2006-01-02") + ": "
	if more := n.Events + n.Claims + n.Jobs; more > 0 {
		return text + "removed " + count(more, "more item")
	}
	return text + "nothing more to remove"
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
