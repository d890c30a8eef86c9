package consent

import (
	"cmp"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// AuditEventTypes are the events a consent audit lists: every change to
// whether, and on what basis, a person may be emailed. Sign-ups (freebie
// requests) are not among them.
var AuditEventTypes = []EventType{
	EventGranted, EventConfirmed, EventWithdrawn, EventObjected, EventImported,
	EventSuppressed, EventUnsuppressed, EventRectified,
}

// AuditQuery selects the consent events of a periodic audit: those of one
// magnet (empty: every magnet, and the events that concern no magnet),
// recorded at or after From and before To (a zero From or To leaves that
// end open).
type AuditQuery struct {
	Magnet   string
	From, To time.Time
}

// Audit calls fn with every consent event (AuditEventTypes) q selects,
// oldest first (ties by subscriber and position), and stops at fn's first
// error, which it returns. With a magnet, it selects the events recorded
// for that magnet, and the imports for one of its purposes; events that
// concern a person across every magnet (a suppression, an objection, a
// rectification) only without one. It reads the whole ledger (on
// DynamoDB, a Scan) before calling fn. A To not after From is a
// *ValidationError.
func (s *Service) Audit(ctx context.Context, q AuditQuery, fn func(Event) error) error {
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return &ValidationError{Fields: map[string]string{"to": "The end of the period must come after its start."}}
	}
	var purposes []string
	if q.Magnet != "" {
		if m, ok := s.Catalog.Get(q.Magnet); ok {
			purposes = m.PurposeIDs()
		}
	}
	var events []Event
	err := s.Scanner.ScanEvents(ctx, AuditEventTypes, func(e Event) error {
		switch {
		case !q.From.IsZero() && e.At.Before(q.From), !q.To.IsZero() && !e.At.Before(q.To):
		case q.Magnet == "", e.Magnet == q.Magnet, e.Magnet == "" && e.Type == EventImported && slices.Contains(purposes, e.Purpose):
			events = append(events, e)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("audit: scan ledger: %w", err)
	}
	slices.SortFunc(events, func(a, b Event) int {
		return cmp.Or(a.At.Compare(b.At), strings.Compare(a.Subscriber, b.Subscriber), cmp.Compare(a.Seq, b.Seq))
	})
	for _, e := range events {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// AuditCSVHeader names the columns WriteAuditCSV writes.
var AuditCSVHeader = []string{"time", "subscriber", "email", "magnet", "purpose", "event", "method", "basis", "wording_version", "notice_version", "source_ip"}

// AuditCSV writes consent events as the CSV of a periodic audit: a header
// row (AuditCSVHeader), then one row per event — its server time (RFC 3339,
// UTC, with the fraction recorded), the subscriber id and the address (an
// audit reviews who was asked, and an address is what a complaint names),
// the magnet, the purpose, the event type, method, basis (imports), the
// wording and privacy-notice versions shown, and the source IP. Addresses
// are written exactly: open the file in a spreadsheet with the email column
// as text (an address may start with "=").
type AuditCSV struct {
	w *csv.Writer
}

// NewAuditCSV starts an audit CSV on w with its header row.
func NewAuditCSV(w io.Writer) (*AuditCSV, error) {
	a := &AuditCSV{w: csv.NewWriter(w)}
	if err := a.w.Write(AuditCSVHeader); err != nil {
		return nil, fmt.Errorf("write audit CSV: %w", err)
	}
	return a, nil
}

// Write adds one event's row.
func (a *AuditCSV) Write(e Event) error {
	purpose := e.Purpose
	if purpose == "" && e.Type == EventGranted {
		purpose = EventPurpose(nil, e)
	}
	err := a.w.Write([]string{
		e.At.UTC().Format(time.RFC3339Nano), e.Subscriber, e.Email, e.Magnet, purpose, string(e.Type), e.Method,
		string(e.Basis), e.WordingVersion, e.NoticeVersion, e.SourceIP,
	})
	if err != nil {
		return fmt.Errorf("write audit CSV: %w", err)
	}
	return nil
}

// Flush writes out what is buffered and reports any error so far.
func (a *AuditCSV) Flush() error {
	a.w.Flush()
	if err := a.w.Error(); err != nil {
		return fmt.Errorf("write audit CSV: %w", err)
	}
	return nil
}
