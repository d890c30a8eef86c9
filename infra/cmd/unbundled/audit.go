package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// auditProgressEvery is how many rows pass between progress lines.
const auditProgressEvery = 1000

// audit writes the consent events of a period as CSV (consent.Service.Audit
// and consent.AuditCSV), or as JSON lines with -json, with progress on
// stderr.
func audit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("audit", operandNone, `Writes every consent event of a period to stdout as CSV, oldest first, for a periodic audit:
grants, confirmations, withdrawals, objections, imports, suppressions and their removal, and name
corrections (sign-ups alone are not consent events). Columns: time (UTC), subscriber (the record
id), email, magnet, purpose, event, method, basis, wording_version, notice_version, source_ip.
The address is included because an audit checks who was asked and a complaint names an address:
keep the file as safely as the ledger. Progress goes to stderr. It reads the whole ledger.

  unbundled audit -magnet uk-gdpr-checklist -from 2026-11-01 -to 2026-12-01 > november.csv

With -magnet only the events recorded for that magnet, and imports for one of its purposes, are
written; suppressions, objections and name corrections concern a person across every magnet and
are written only without -magnet.`, stderr)
	magnetID := c.fs.String("magnet", "", "only this magnet's events (default: every event)")
	from := c.fs.String("from", "", "start of the period, included: a date (2026-11-01, midnight UTC) or an RFC 3339 time (default: the beginning)")
	to := c.fs.String("to", "", "end of the period, excluded: a date (2026-12-01 means up to the end of 30 November, UTC) or an RFC 3339 time (default: now)")
	asJSON := c.fs.Bool("json", false, "write one JSON event per line instead of CSV")
	if ok, code := c.parse(args); !ok {
		return code
	}
	var q consent.AuditQuery
	var err error
	q.Magnet = *magnetID
	if q.From, err = parseWhen(*from); err != nil {
		c.errorf("-from: %v", err)
		return 2
	}
	if q.To, err = parseWhen(*to); err != nil {
		c.errorf("-to: %v", err)
		return 2
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		c.errorf("-to must come after -from")
		return 2
	}
	svc, closeStore, err := c.ledger.open(ctx)
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	defer closeStore()
	if q.Magnet != "" {
		if _, ok := svc.Catalog.Get(q.Magnet); !ok {
			fmt.Fprintf(stderr, "unbundled audit: note: magnet %q is not in %s; writing the events recorded for it anyway\n", q.Magnet, c.ledger.magnets)
		}
	}
	fmt.Fprintln(stderr, "reading the ledger...")
	var write func(consent.Event) error
	var flush func() error
	if *asJSON {
		enc := json.NewEncoder(stdout)
		write = func(e consent.Event) error { return enc.Encode(e) }
		flush = func() error { return nil }
	} else {
		w, err := consent.NewAuditCSV(stdout)
		if err != nil {
			c.errorf("%v", err)
			return 1
		}
		write, flush = w.Write, w.Flush
	}
	n := 0
	err = svc.Audit(ctx, q, func(e consent.Event) error {
		if err := write(e); err != nil {
			return err
		}
		if n++; n%auditProgressEvery == 0 {
			fmt.Fprintf(stderr, "wrote %d events\n", n)
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	var verr *consent.ValidationError
	switch {
	case errors.As(err, &verr):
		c.errorf("%s", fieldMessages(verr))
		return 2
	case err != nil:
		c.errorf("%v", err)
		return 1
	}
	fmt.Fprintf(stderr, "wrote %s%s\n", count(n, "consent event"), describePeriod(q))
	return 0
}

// parseWhen reads a -from or -to value: empty (open), a date (midnight
// UTC) or an RFC 3339 time.
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (2026-11-01) nor an RFC 3339 time (2026-11-01T09:00:00Z)", s)
	}
	return t.UTC(), nil
}

// describePeriod says what an audit covered, for its summary line.
func describePeriod(q consent.AuditQuery) string {
	s := ""
	if q.Magnet != "" {
		s += " for magnet " + q.Magnet
	}
	if !q.From.IsZero() {
		s += " from " + q.From.Format(time.RFC3339)
	}
	if !q.To.IsZero() {
		s += " before " + q.To.Format(time.RFC3339)
	}
	return s
}
