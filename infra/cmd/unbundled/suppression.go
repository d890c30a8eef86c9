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

const suppressionUsage = `Usage: unbundled suppression COMMAND [flags]

  list    everyone who left — bounced, complained, objected or withdrew — as CSV
          for your other sending tools
  add     suppress addresses on your word: no mail of any kind (-reason)
  remove  lift a suppression, e.g. a mailbox that bounced works again (-reason;
          after a spam complaint also -force)
  check   whether an address is suppressed, and why

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
	case "add":
		return suppressionChange(ctx, "add", args[1:], stdout, stderr)
	case "remove":
		return suppressionChange(ctx, "remove", args[1:], stdout, stderr)
	case "check":
		return suppressionCheck(ctx, args[1:], stdout, stderr)
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

// suppressionChange adds (action "add") or lifts ("remove") the
// suppression of each address, on the operator's word and with a reason
// (consent.Service.Suppress and Unsuppress).
func suppressionChange(ctx context.Context, action string, args []string, stdout, stderr io.Writer) int {
	about := `Suppresses each address: no mail of any kind goes to it — no freebie, no confirm link, no
receipt — until the suppression is removed. Use it when a person asks for no email at all, or
for an address you know is dead or a spam trap. It is recorded as a suppressed event (method
operator) with your reason, listed by "suppression list", and sent to your webhook like a bounce.
Anyone can be suppressed, on record here or not.`
	example := "the person asked by phone for no email at all, 2 December 2026"
	if action == "remove" {
		about = `Lifts the suppression of each address — say, a mailbox that bounced works again — so mail flows
to it again. It is recorded as an unsuppressed event (method operator) with your reason. Nothing
else changes: consent that stood before a bounce stands again, but withdrawals stand (a spam
complaint also withdrew consent) and an objection is forever. A suppression that followed a spam
complaint is lifted only with -force: the person told their mail provider our mail was unwanted,
and mailing them again risks the sending reputation of the whole account. SES keeps its own
account-level suppression list too: remove the address there as well, or SES rejects the mail.`
		example = "the mailbox works again: the person wrote from it, 2 December 2026"
	}
	c := newAddressCommand("suppression "+action, about, stderr)
	reason := c.fs.String("reason", "", `why, recorded with the event, e.g. "`+example+`" (required)`)
	force := new(bool)
	if action == "remove" {
		force = c.fs.Bool("force", false, "also lift a suppression that followed a spam complaint (only if the person asked you to)")
	}
	asJSON := c.fs.Bool("json", false, "print one JSON object per line")
	if ok, code := c.parse(args); !ok {
		return code
	}
	if strings.TrimSpace(*reason) == "" {
		c.errorf("say why with -reason, e.g. -reason %q", example)
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
		var written bool
		if action == "add" {
			written, err = svc.Suppress(ctx, address, *reason, consent.Evidence{})
		} else {
			written, err = svc.Unsuppress(ctx, address, *reason, *force, consent.Evidence{})
		}
		var verr *consent.ValidationError
		switch {
		case errors.As(err, &verr) && verr.Fields["reason"] != "":
			c.errorf("-reason: %s", verr.Fields["reason"])
			return 2
		case errors.As(err, &verr) && verr.Fields["force"] != "":
			c.errorf("%q: %s (add -force)", address, verr.Fields["force"])
			code = 1
			continue
		case errors.As(err, &verr):
			c.errorf("%q: %s", address, fieldMessages(verr))
			code = 1
			continue
		case err != nil:
			c.errorf("%q: %v", address, err)
			return 1
		}
		if *asJSON {
			if err := enc.Encode(map[string]any{"address": address, "action": action, "changed": written}); err != nil {
				c.errorf("%v", err)
				return 1
			}
			continue
		}
		switch {
		case action == "add" && written:
			fmt.Fprintf(stdout, "%s	suppressed: no mail of any kind until removed\n", address)
		case action == "add":
			fmt.Fprintf(stdout, "%s	already suppressed: nothing changed\n", address)
		case written:
			fmt.Fprintf(stdout, "%s	suppression lifted: mail may go to it again\n", address)
		default:
			fmt.Fprintf(stdout, "%s	not suppressed: nothing changed\n", address)
		}
	}
	return code
}

// suppressionCheck says for each address whether it is suppressed and why
// (consent.Service.SuppressionCheck).
func suppressionCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newAddressCommand("suppression check", `Says for each address whether it is suppressed (no mail of any kind) and why, and what the
suppression list holds for it (objected, or withdrawn from a purpose).`, stderr)
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
		st, err := svc.SuppressionCheck(ctx, address)
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
				consent.SuppressionStatus
			}{address, st}); err != nil {
				c.errorf("%v", err)
				return 1
			}
			continue
		}
		verdict := "suppressed=no "
		if st.Suppressed {
			verdict = "suppressed=yes"
		}
		fmt.Fprintf(stdout, "%s  %s  %s\n", address, verdict, st.Reason)
	}
	return code
}
