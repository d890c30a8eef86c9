package consent

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
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
// sending tools: every address that bounced permanently or complained (or
// that the operator suppressed) and is still suppressed, objected, or
// withdrew from a purpose and has not opted in to it again
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

// suppressionsOf derives one person's suppression rows from their ledger:
// the suppression standing (SuppressedBy; one lifted by the operator is
// not listed), else the objection, else each withdrawal not since opted in
// again.
func suppressionsOf(ledger []Event) []Suppression {
	email := lastEmail(ledger)
	if e, ok := SuppressedBy(ledger); ok {
		return []Suppression{{Email: email, Status: EventSuppressed, Since: e.At.UTC(), Method: e.Method}}
	}
	if e := firstOf(ledger, EventObjected); e.ID != "" {
		return []Suppression{{Email: email, Status: EventObjected, Since: e.At.UTC(), Method: e.Method}}
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

// MaxOperatorReason caps the reason the operator records with a
// suppression or its removal.
const MaxOperatorReason = 200

// checkOperatorReason trims reason and checks it is one line of at most
// MaxOperatorReason bytes; problem is the message for the reason field.
func checkOperatorReason(reason, example string) (string, string) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return "", "Say why, e.g. \"" + example + "\"."
	case len(reason) > MaxOperatorReason || strings.ContainsFunc(reason, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", fmt.Sprintf("The reason must be one line of at most %d bytes.", MaxOperatorReason)
	}
	return reason, ""
}

// operatorRequest checks an address and a reason, as every operator
// suppression change takes them.
func operatorRequest(address, reason, example string) (email, why string, err error) {
	fields := map[string]string{}
	email, aerr := NormaliseAddress(address)
	if aerr != nil {
		fields["email"] = "Enter a valid email address, like name@example.com."
	}
	why, problem := checkOperatorReason(reason, example)
	if problem != "" {
		fields["reason"] = problem
	}
	if len(fields) > 0 {
		return "", "", &ValidationError{Fields: fields}
	}
	return email, why, nil
}

// Suppress suppresses the address on the operator's word — a mailbox the
// person says is gone, a spam trap, an address a court order names: a
// `suppressed` event, method operator, with the reason and the request id
// from ev. No mail of any kind goes to it until the suppression is removed
// (Unsuppress), and other tools hear of it like a bounce (the webhook). It
// reports whether it wrote one: false when a suppression already stands.
// Anyone may be suppressed, known here or not. A bad address or reason is a
// *ValidationError.
func (s *Service) Suppress(ctx context.Context, address, reason string, ev Evidence) (bool, error) {
	email, reason, err := operatorRequest(address, reason, "the person asked for no email at all, by phone, 2 December 2026")
	if err != nil {
		return false, err
	}
	subscriber := s.Keys.Subject.SubscriberID(email)
	written := false
	err = s.commitAfterLedger(ctx, subscriber, withdrawRetry, func(ledger []Event) (Write, error) {
		written = false
		if _, ok := SuppressedBy(ledger); ok {
			return Write{}, nil
		}
		written = true
		now := s.Now().UTC()
		return s.withNotifications(ctx, Write{Events: []Event{{
			Subscriber: subscriber, ID: NewEventID(now), Type: EventSuppressed, At: now, Email: email,
			Method: MethodOperator, Reason: reason, RequestID: ev.RequestID,
		}}}), nil
	})
	if err != nil {
		return false, fmt.Errorf("suppress: %w", err)
	}
	return written, nil
}

// Unsuppress lifts the suppression standing on the address — say, after a
// mailbox that bounced works again: an `unsuppressed` event, method
// operator, with the reason and the request id from ev. Mail flows again;
// nothing else changes — a consent that stood before a bounce stands again,
// but a complaint's withdrawals stand and an objection is forever. It
// reports whether it wrote one: false when no suppression stands.
//
// A suppression that followed a spam complaint is lifted only with force:
// the person told their mail provider our mail was unwanted, and mailing
// them again risks the sending reputation of every sender on the account.
// Without force that is a *ValidationError naming "force", as is a bad
// address or reason.
func (s *Service) Unsuppress(ctx context.Context, address, reason string, force bool, ev Evidence) (bool, error) {
	email, reason, err := operatorRequest(address, reason, "the mailbox works again: the person wrote from it, 2 December 2026")
	if err != nil {
		return false, err
	}
	subscriber := s.Keys.Subject.SubscriberID(email)
	written := false
	err = s.commitAfterLedger(ctx, subscriber, withdrawRetry, func(ledger []Event) (Write, error) {
		written = false
		began, ok := SuppressedBy(ledger)
		if !ok {
			return Write{}, nil
		}
		if !force && suppressedAfterComplaint(ledger, began) {
			return Write{}, &ValidationError{Fields: map[string]string{"force": "This address is suppressed after a spam complaint (" + suppressionReason(began) +
				"). Lift it only if the person asked you to, and say so: force the removal."}}
		}
		written = true
		now := s.Now().UTC()
		return Write{Events: []Event{{
			Subscriber: subscriber, ID: NewEventID(now), Type: EventUnsuppressed, At: now, Email: email,
			Method: MethodOperator, Reason: reason, RequestID: ev.RequestID,
		}}}, nil
	})
	if err != nil {
		var verr *ValidationError
		if errors.As(err, &verr) {
			return false, err
		}
		return false, fmt.Errorf("unsuppress: %w", err)
	}
	return written, nil
}

// suppressedAfterComplaint reports whether the suppression standing, which
// began with began, includes a spam complaint.
func suppressedAfterComplaint(ledger []Event, began Event) bool {
	for _, e := range ledger {
		if e.Seq >= began.Seq && e.Type == EventSuppressed && e.Method == MethodComplaint {
			return true
		}
	}
	return false
}

// SuppressionStatus is where one address stands with the suppression list,
// and why.
type SuppressionStatus struct {
	Email string `json:"email"`
	// Suppressed reports whether no mail of any kind may go to the address.
	Suppressed bool `json:"suppressed"`
	// Reason says why, in words an operator can read: the suppression
	// standing, the last one lifted, an erasure, or that nothing is held.
	Reason string `json:"reason"`
	// Listed are the rows the suppression list holds for the address
	// (suppressed, objected, or each purpose withdrawn); empty if none.
	Listed []Suppression `json:"listed"`
	// Erased is set when the person was erased and has not signed up
	// since: they are not listed, since nothing of them is kept.
	Erased bool `json:"erased,omitempty"`
}

// SuppressionCheck says whether the address is suppressed and why, and
// what the suppression list holds for it. A bad address is a
// *ValidationError.
func (s *Service) SuppressionCheck(ctx context.Context, address string) (SuppressionStatus, error) {
	email, err := NormaliseAddress(address)
	if err != nil {
		return SuppressionStatus{}, &ValidationError{Fields: map[string]string{"email": "Enter a valid email address, like name@example.com."}}
	}
	ledger, err := s.Ledger.Events(ctx, s.Keys.Subject.SubscriberID(email))
	if err != nil {
		return SuppressionStatus{}, fmt.Errorf("suppression check: read ledger: %w", err)
	}
	st := SuppressionStatus{Email: email, Listed: suppressionsOf(ledger)}
	for i := range st.Listed {
		st.Listed[i].Email = email
	}
	if st.Listed == nil {
		st.Listed = []Suppression{}
	}
	if began, ok := SuppressedBy(ledger); ok {
		st.Suppressed, st.Reason = true, suppressionReason(began)
		return st, nil
	}
	if len(ledger) == 0 {
		t, erased, err := s.tombstone(ctx, email)
		if err != nil {
			return SuppressionStatus{}, fmt.Errorf("suppression check: %w", err)
		}
		if erased {
			st.Erased = true
			st.Reason = "not listed: erased on " + stamp(t.At) + " (" + t.Reason + "); nothing is kept — do not contact or re-add"
			return st, nil
		}
		st.Reason = "not suppressed: nothing is held on this address"
		return st, nil
	}
	st.Reason = "not suppressed"
	if lifted := lastOf(ledger, "", EventUnsuppressed); lifted.Type != "" {
		st.Reason += ": a suppression was lifted on " + stamp(lifted.At) + " by the operator (" + lifted.Reason + ")"
	}
	for i, r := range st.Listed {
		sep := "; listed as "
		if i > 0 {
			sep = ", and "
		}
		st.Reason += sep + string(r.Status)
		if r.Purpose != "" {
			st.Reason += " from " + r.Purpose
		}
		st.Reason += " on " + stamp(r.Since) + " via " + methodWords(r.Method) + " (no marketing)"
	}
	return st, nil
}
