package consent

import (
	"context"
	"fmt"
	"slices"

	"github.com/unbundled/unbundled/shared/magnet"
)

// Basis is the ground on which marketing email may be sent to a person for
// a purpose — or, for objected, the reason it never may. This release
// derives consent, objected and none; soft opt-in and corporate contacts
// come with imports.
type Basis string

const (
	// BasisConsent: consent granted for the purpose (confirmed where the
	// magnet required it) and not withdrawn since.
	BasisConsent Basis = "consent"
	// BasisObjected: the person objected to direct marketing; no purpose
	// may ever be marketed to them again.
	BasisObjected Basis = "objected"
	// BasisNone: no ground — never consented, awaiting confirmation,
	// withdrawn, bounced or complained.
	BasisNone Basis = "none"
)

// Decision answers "may I send marketing email to this person for this
// purpose, and on what basis?" from the ledger alone.
type Decision struct {
	Allowed bool   `json:"allowed"`
	Basis   Basis  `json:"basis"`
	Purpose string `json:"purpose"`
	// Reason says why, citing dates and sources, in words an operator can
	// hand on: "consent given 2026-11-02 on magnet 'seo-checklist',
	// confirmed 2026-11-02".
	Reason string `json:"reason"`
}

// Decide is the one rule every sender uses: it derives the decision for
// purpose from a person's ledger (oldest event first).
func Decide(ledger []Event, purpose string) Decision {
	st := MarketingStatus(ledger, purpose)
	d := Decision{Purpose: purpose, Basis: BasisNone}
	switch st.State {
	case StateActive:
		d.Allowed, d.Basis = true, BasisConsent
		d.Reason = fmt.Sprintf("consent given %s on magnet '%s'", day(st.Granted), st.Granted.Magnet)
		if c, ok := confirmationOf(ledger, st.Granted); ok {
			d.Reason += ", confirmed " + day(c)
		} else if !st.Granted.ConfirmationRequired {
			d.Reason += " (single opt-in)"
		}
	case StatePending:
		d.Reason = fmt.Sprintf("consent given %s on magnet '%s' awaits confirmation", day(st.Granted), st.Granted.Magnet)
	case StateWithdrawn:
		w := lastOf(ledger, purpose, EventWithdrawn)
		d.Reason = fmt.Sprintf("withdrawn %s by %s", day(w), methodWords(w.Method))
	case StateObjected:
		o := lastOf(ledger, "", EventObjected)
		d.Basis = BasisObjected
		d.Reason = fmt.Sprintf("objected %s (%s) — do not contact", day(o), methodWords(o.Method))
	case StateSuppressed:
		s := lastOf(ledger, "", EventSuppressed)
		d.Reason = fmt.Sprintf("suppressed %s after %s: no mail of any kind", day(s), methodWords(s.Method))
	default:
		d.Reason = "no consent recorded for " + purpose
	}
	return d
}

// MayEmail decides for the person with this address. An empty purpose means
// the configuration's one controller-wide marketing purpose; with several
// controllers configured the purpose must be named. A bad address is a
// *ValidationError.
func (s *Service) MayEmail(ctx context.Context, address, purpose string) (Decision, error) {
	if purpose == "" {
		controllers := s.ControllerPurposes()
		if len(controllers) != 1 {
			return Decision{}, &ValidationError{Fields: map[string]string{"purpose": fmt.Sprintf("Name the purpose: the configuration has %d controllers (%v).", len(controllers), controllers)}}
		}
		purpose = controllers[0]
	}
	ledger, err := s.LedgerFor(ctx, address)
	if err != nil {
		return Decision{}, err
	}
	return Decide(ledger, purpose), nil
}

// ControllerPurposes lists the controller-wide marketing purposes of the
// configured magnets' controllers, in catalog order, each once.
func (s *Service) ControllerPurposes() []string {
	var ps []string
	for _, m := range s.Catalog.All() {
		if p := magnet.ControllerPurpose(m.Controller); !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return ps
}

func day(e Event) string { return e.At.UTC().Format("2006-01-02") }

// confirmationOf returns the `confirmed` event that confirmed grant g.
func confirmationOf(ledger []Event, g Event) (Event, bool) {
	for _, e := range ledger {
		if e.Type == EventConfirmed && e.Seq > g.Seq && (e.Confirms == g.ID || e.Confirms == "" && e.Magnet == g.Magnet) {
			return e, true
		}
	}
	return Event{}, false
}

// lastOf returns the latest event of type typ for purpose ("" for any).
func lastOf(ledger []Event, purpose string, typ EventType) Event {
	for i := len(ledger) - 1; i >= 0; i-- {
		e := ledger[i]
		if e.Type == typ && (purpose == "" || EventPurpose(ledger, e) == purpose) {
			return e
		}
	}
	return Event{}
}

// methodWords says how an event came about, for reasons.
func methodWords(method string) string {
	switch method {
	case MethodOneClick:
		return "one-click unsubscribe"
	case MethodUnsubscribePage:
		return "the unsubscribe page"
	case MethodComplaint:
		return "a spam complaint"
	case MethodBounce:
		return "a permanent bounce"
	case MethodConfirmLink:
		return "the confirm link"
	case MethodCheckbox:
		return "the checkbox"
	case MethodOperator:
		return "recorded by the operator"
	}
	return method
}

// RecordObjection records that the person with this address objects to
// direct marketing: an `objected` event, permanent and for every purpose.
// It reports whether it wrote one (false: already objected). A bad address
// is a *ValidationError. Like a withdrawal, it is never lost to a sign-up
// written at the same moment.
func (s *Service) RecordObjection(ctx context.Context, address, method string, ev Evidence) (bool, error) {
	email, err := NormaliseAddress(address)
	if err != nil {
		return false, &ValidationError{Fields: map[string]string{"email": "Enter a valid email address, like name@example.com."}}
	}
	subscriber := s.Keys.Subject.SubscriberID(email)
	written := false
	err = s.commitAfterLedger(ctx, subscriber, withdrawRetry, func(ledger []Event) (Write, error) {
		written = false
		for _, e := range ledger {
			if e.Type == EventObjected {
				return Write{}, nil
			}
		}
		written = true
		now := s.Now().UTC()
		return s.withNotifications(ctx, Write{Events: []Event{{
			Subscriber: subscriber, ID: NewEventID(now), Type: EventObjected, At: now, Email: email, Method: method,
			SourceIP: ev.SourceIP, UserAgent: ev.UserAgent, RequestID: ev.RequestID,
		}}}), nil
	})
	if err != nil {
		return false, fmt.Errorf("record objection: %w", err)
	}
	return written, nil
}
