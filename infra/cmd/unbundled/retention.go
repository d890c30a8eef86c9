package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

const retentionUsage = `Usage: unbundled retention COMMAND [flags]

  run     apply the retention policy now: erase people past their period (a
          tombstone stays) and minimise old evidence; -dry-run to see first

Run "unbundled retention COMMAND -h" for a command's flags.
`

// retention runs a retention command.
func retention(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, retentionUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "run":
		return retentionRun(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "unbundled retention: unknown command %q\n\n%s", args[0], retentionUsage)
		return 2
	}
}

// retentionRun applies the retention policy (consent.Service.ApplyRetention)
// to the whole ledger and prints what it did — or, with -dry-run, would do
// — as a summary and one line per person erased; the whole report as one
// JSON object with -json. Progress goes to stderr.
func retentionRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	d := consent.DefaultRetention.Days()
	c := newCommand("retention run", operandNone, fmt.Sprintf(`Applies the retention policy to everyone in the ledger, as the deployed stack does once a day:
  - people who never held a marketing basis (freebie only, or double opt-in never confirmed) are
    erased -unconfirmed-days after their last activity;
  - people who withdrew and hold no other basis are erased -withdrawn-days after the withdrawal;
  - everyone else keeps their ledger, but the IP address (truncated to its network) and user agent
    of events older than -evidence-days are minimised.
People who objected, bounced or complained are never erased: their "do not contact" is kept.
Erasure keeps a tombstone whose reason says why, so no import re-adds the person; it cannot be
undone, and it removes the proof of consent too. Run with -dry-run first. Use the periods the
deployed stack runs with (its Retention… parameters; defaults %d, %d and %d days).`, d.Unconfirmed, d.Withdrawn, d.Evidence), stderr)
	dryRun := c.fs.Bool("dry-run", false, "report what would be erased and minimised, and write nothing")
	asJSON := c.fs.Bool("json", false, "print the report as one JSON object")
	c.fs.IntVar(&d.Unconfirmed, "unconfirmed-days", d.Unconfirmed, fmt.Sprintf("erase people who never held a marketing basis this many days after their last activity (%d-%d)", consent.UnconfirmedDaysRange[0], consent.UnconfirmedDaysRange[1]))
	c.fs.IntVar(&d.Evidence, "evidence-days", d.Evidence, fmt.Sprintf("minimise IP addresses and user agents of events older than this many days (%d-%d)", consent.EvidenceDaysRange[0], consent.EvidenceDaysRange[1]))
	c.fs.IntVar(&d.Withdrawn, "withdrawn-days", d.Withdrawn, fmt.Sprintf("erase people who withdrew this many days after the withdrawal (%d-%d)", consent.WithdrawnDaysRange[0], consent.WithdrawnDaysRange[1]))
	if ok, code := c.parse(args); !ok {
		return code
	}
	policy := d.Retention()
	if d.Unconfirmed <= 0 || d.Evidence <= 0 || d.Withdrawn <= 0 || policy.Check() != nil {
		c.errorf("the periods must be whole days: -unconfirmed-days %d-%d, -evidence-days %d-%d, -withdrawn-days %d-%d",
			consent.UnconfirmedDaysRange[0], consent.UnconfirmedDaysRange[1], consent.EvidenceDaysRange[0], consent.EvidenceDaysRange[1],
			consent.WithdrawnDaysRange[0], consent.WithdrawnDaysRange[1])
		c.fs.Usage()
		return 2
	}
	svc, closeStore, err := c.ledger.open(ctx)
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	defer closeStore()
	svc.Retention = policy
	report, runErr := svc.ApplyRetention(ctx, consent.RetentionOptions{DryRun: *dryRun, Progress: func(done, total int) {
		if done%progressEvery == 0 || done == total {
			fmt.Fprintf(stderr, "retention: %d of %d people\n", done, total)
		}
	}})
	if runErr != nil {
		c.errorf("%v", runErr)
	}
	if report.At.IsZero() {
		return 1 // refused before it began
	}
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(report); err != nil {
			c.errorf("%v", err)
			return 1
		}
	} else if err := writeRetentionReport(stdout, report); err != nil {
		c.errorf("%v", err)
		return 1
	}
	if runErr != nil {
		return 1
	}
	return 0
}

// writeRetentionReport writes r for a person to read: what the policy
// was, what was (or would be) done, and one line per person erased.
func writeRetentionReport(w io.Writer, r consent.RetentionReport) error {
	erased, minimised := "erased", "minimised"
	if r.DryRun {
		erased, minimised = "would be erased", "would be minimised"
		fmt.Fprintf(w, "Dry run at %s: nothing was written.\n", r.At.Format(time.RFC3339))
	} else {
		fmt.Fprintf(w, "Retention applied at %s.\n", r.At.Format(time.RFC3339))
	}
	p := r.Policy
	fmt.Fprintf(w, "Policy: erase after %d days without a marketing basis, %d days after a withdrawal; minimise evidence after %d days.\n",
		p.Unconfirmed, p.Withdrawn, p.Evidence)
	fmt.Fprintf(w, "People: %d examined, %d kept, %d %s (%d never held a basis, %d withdrew)",
		r.People, r.Kept, len(r.Erasures), erased, r.ErasedUnconfirmed, r.ErasedWithdrawn)
	if r.Failed > 0 {
		fmt.Fprintf(w, ", %d failed", r.Failed)
	}
	people := fmt.Sprintf("%d people", r.PeopleMinimised)
	if r.PeopleMinimised == 1 {
		people = "1 person"
	}
	fmt.Fprintf(w, ".\nEvidence: %s of %s %s.\n", count(r.EventsMinimised, "event"), people, minimised)
	if len(r.Erasures) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "email\trule\treason")
	for _, e := range r.Erasures {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Email, e.Rule, e.Reason)
	}
	return tw.Flush()
}
