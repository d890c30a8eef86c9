package consent

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"time"
)

// Suppression is one row of the suppression export: an address other
// sending tools must not mail — for Purpose, or for everything when
// Purpose is empty.
type Suppression struct {
	Email string `json:"email"`
	// Status is why: suppressed (a bounce or complaint: no mail of any
	// kind), objected (no marketing, ever) or withdrawn (no marketing for
	// Purpose until the person opts in again here).
	Status  EventType `json:"status"`
	Purpose string    `json:"purpose,omitempty"`
	Since   time.Time `json:"since"`
	Method  string    `json:"method"`
}

// SuppressionList lists everyone who left, for the business's other
// sending tools: every address that bounced permanently or complained,
// objected, or withdrew from a purpose and has not opted in to it again
// since — sorted by address, then purpose. It reads the whole ledger.
// Erased people are not listed: nothing of them is kept.
func (s *Service) SuppressionList(ctx context.Context) ([]Suppression, error) {
	subscribers := map[string]bool{}
	err := s.Scanner.ScanEvents(ctx, []EventType{EventWithdrawn, EventObjected, EventSuppressed}, func(e Event) error {
		subscribers[e.Subscriber] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("suppression list: scan ledger: %w", err)
	}
	var list []Suppression
	for subscriber := range subscribers {
		ledger, err := s.Ledger.Events(ctx, subscriber)
		if err != nil {
			return nil, fmt.Errorf("suppression list: read ledger: %w", err)
		}
		list = append(list, suppressionsOf(ledger)...)
	}
	slices.SortFunc(list, func(a, b Suppression) int {
		return cmp.Or(cmp.Compare(a.Email, b.Email), cmp.Compare(a.Purpose, b.Purpose))
	})
	return list, nil
}

// suppressionsOf derives one person's suppression rows from their ledger.
func suppressionsOf(ledger []Event) []Suppression {
	email := lastEmail(ledger)
	for _, typ := range []EventType{EventSuppressed, EventObjected} {
		if e := firstOf(ledger, typ); e.ID != "" {
			return []Suppression{{Email: email, Status: typ, Since: e.At.UTC(), Method: e.Method}}
		}
	}
	var rows []Suppression
	seen := map[string]bool{}
	for i := len(ledger) - 1; i >= 0; i-- {
		e := ledger[i]
		if e.Type != EventWithdrawn {
			continue
		}
		p := EventPurpose(ledger, e)
		if seen[p] {
			continue
		}
		seen[p] = true
		if MarketingStatus(ledger, p).Consented() {
			continue // opted in again since
		}
		rows = append(rows, Suppression{Email: email, Status: EventWithdrawn, Purpose: p, Since: e.At.UTC(), Method: e.Method})
	}
	return rows
}

func firstOf(ledger []Event, typ EventType) Event {
	for _, e := range ledger {
		if e.Type == typ {
			return e
		}
	}
	return Event{}
}

// WriteSuppressionCSV writes list as CSV with a header row: email, status,
// purpose (empty: everything), since (RFC 3339, UTC), method. Addresses are
// written exactly, for other tools to match; a spreadsheet must open the
// file with the email column as text (an address may start with "=").
func WriteSuppressionCSV(w io.Writer, list []Suppression) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"email", "status", "purpose", "since", "method"}); err != nil {
		return fmt.Errorf("write suppression CSV: %w", err)
	}
	for _, r := range list {
		if err := cw.Write([]string{r.Email, string(r.Status), r.Purpose, r.Since.Format(time.RFC3339), r.Method}); err != nil {
			return fmt.Errorf("write suppression CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write suppression CSV: %w", err)
	}
	return nil
}
