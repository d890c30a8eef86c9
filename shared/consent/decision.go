package consent

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/unbundled/unbundled/shared/magnet"
)

// Basis is the ground on which marketing email may be sent to a person for
// a purpose — or, for objected, the reason it never may. This release
// derives consent from sign-ups, soft opt-in and corporate from imports,
// objected from objections, and none otherwise.
type Basis string

const (
	// BasisConsent: consent granted for the purpose (confirmed where the
	// magnet required it) and not withdrawn since.
	BasisConsent Basis = "consent"
	// BasisSoftOptIn: an existing customer imported with evidence of all
	// three soft opt-in conditions, for a purpose whose declared product
	// categories include theirs. Every message must offer the opt-out.
	BasisSoftOptIn Basis = "soft_opt_in"
	// BasisCorporate: a contact at a registered company (or LLP or public
	// body), imported with a legitimate-interests assessment reference and
	// their role, for a purpose relevant to that role.
	BasisCorporate Basis = "corporate"
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
	// OptOutURL is, when Allowed, a one-click unsubscribe link for this
	// person and purpose (set by Service.MayEmail). Every message sent on
	// this answer must carry it — in the text and as List-Unsubscribe —
	// and a soft opt-in or corporate contact may be mailed only with it.
	OptOutURL string `json:"opt_out_url,omitempty"`
}

// Decide is the one rule every sender uses: it derives the decision for
// purpose from a person's ledger (oldest event first). categories are the
// product categories the purpose declares (magnet.PurposeInfo.Categories);
// a soft opt-in counts only for a purpose whose categories include the
// customer's.
//
// In order: a suppression (bounce, complaint) or an objection beats
// everything; then consent for the purpose; then an imported basis — a
// soft opt-in or a corporate contact — unless the person withdrew from the
// purpose (or from all of its controller's marketing) at any time, before
// or after the import.
func Decide(ledger []Event, purpose string, categories ...string) Decision {
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
		return d
	case StateObjected:
		o := lastOf(ledger, "", EventObjected)
		d.Basis = BasisObjected
		d.Reason = fmt.Sprintf("objected %s (%s) — do not contact", day(o), methodWords(o.Method))
		return d
	case StateSuppressed:
		s := lastOf(ledger, "", EventSuppressed)
		if s.Method == MethodOperator {
			d.Reason = fmt.Sprintf("suppressed %s by the operator (%s): no mail of any kind", day(s), s.Reason)
		} else {
			d.Reason = fmt.Sprintf("suppressed %s after %s: no mail of any kind", day(s), methodWords(s.Method))
		}
		return d
	}
	w, withdrew := withdrawalFrom(ledger, purpose)
	if !withdrew {
		if imported, ok := importedBasis(ledger, purpose, categories); ok {
			return imported
		}
	}
	switch {
	case st.State == StatePending:
		d.Reason = fmt.Sprintf("consent given %s on magnet '%s' awaits confirmation", day(st.Granted), st.Granted.Magnet)
	case withdrew:
		d.Reason = fmt.Sprintf("withdrawn %s by %s", day(w), methodWords(w.Method))
	default:
		d.Reason = "no consent recorded for " + purpose
		if i, found := lastImport(ledger, purpose); found && i.Basis == BasisSoftOptIn {
			d.Reason = fmt.Sprintf("soft opt-in imported %s is for %q, which is not among this purpose's product categories", day(i), i.SoftOptIn.Category)
		}
	}
	return d
}

// withdrawalFrom returns the latest `withdrawn` event for purpose or for
// the controller-wide purpose it belongs to.
func withdrawalFrom(ledger []Event, purpose string) (Event, bool) {
	controller, _, _ := strings.Cut(purpose, "/")
	for i := len(ledger) - 1; i >= 0; i-- {
		e := ledger[i]
		if e.Type != EventWithdrawn {
			continue
		}
		if p := EventPurpose(ledger, e); p == purpose || p == controller {
			return e, true
		}
	}
	return Event{}, false
}

// lastImport returns the latest `imported` event for purpose.
func lastImport(ledger []Event, purpose string) (Event, bool) {
	for i := len(ledger) - 1; i >= 0; i-- {
		if e := ledger[i]; e.Type == EventImported && e.Purpose == purpose {
			return e, true
		}
	}
	return Event{}, false
}

// importedBasis is the decision an imported basis for purpose gives, if
// one stands: the latest corporate import, or the latest soft opt-in whose
// category is one of categories.
func importedBasis(ledger []Event, purpose string, categories []string) (Decision, bool) {
	for i := len(ledger) - 1; i >= 0; i-- {
		e := ledger[i]
		if e.Type != EventImported || e.Purpose != purpose {
			continue
		}
		switch e.Basis {
		case BasisCorporate:
			o := e.Organisation
			number := ""
			if o.Number != "" {
				number = " (" + o.Number + ")"
			}
			return Decision{Allowed: true, Basis: BasisCorporate, Purpose: purpose, Reason: fmt.Sprintf(
				"corporate contact: %s at %s%s, legitimate-interests assessment %s; imported %s from %s",
				o.Role, o.Name, number, e.LIAReference, day(e), e.Import.File)}, true
		case BasisSoftOptIn:
			if !containsFold(categories, e.SoftOptIn.Category) {
				continue
			}
			so := e.SoftOptIn
			return Decision{Allowed: true, Basis: BasisSoftOptIn, Purpose: purpose, Reason: fmt.Sprintf(
				"soft opt-in: customer (sale %s on %s, %q; opt-out offered %s); imported %s from %s — every message must offer the opt-out",
				so.SaleReference, so.SaleDate, so.Category, so.OptOutOffered, day(e), e.Import.File)}, true
		}
	}
	return Decision{}, false
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(c string) bool { return strings.EqualFold(strings.TrimSpace(c), strings.TrimSpace(s)) })
}

// MayEmail decides for the person with this address. An empty purpose means
// the configuration's one controller-wide marketing purpose; with several
// controllers configured the purpose must be named. A bad address is a
// *ValidationError. An allowed answer carries the opt-out link to put in
// the message; an erased address is "no", citing the erasure.
func (s *Service) MayEmail(ctx context.Context, address, purpose string) (Decision, error) {
	email, err := NormaliseAddress(address)
	if err != nil {
		return Decision{}, &ValidationError{Fields: map[string]string{"email": "Enter a valid email address, like name@example.com."}}
	}
	if purpose == "" {
		controllers := s.ControllerPurposes()
		if len(controllers) != 1 {
			return Decision{}, &ValidationError{Fields: map[string]string{"purpose": fmt.Sprintf("Name the purpose: the configuration has %d controllers (%v).", len(controllers), controllers)}}
		}
		purpose = controllers[0]
	}
	subscriber := s.Keys.Subject.SubscriberID(email)
	ledger, err := s.Ledger.Events(ctx, subscriber)
	if err != nil {
		return Decision{}, fmt.Errorf("read ledger: %w", err)
	}
	if len(ledger) == 0 {
		if t, erased, err := s.tombstone(ctx, email); err != nil {
			return Decision{}, err
		} else if erased {
			return Decision{Purpose: purpose, Basis: BasisNone, Reason: fmt.Sprintf("erased %s (%s): nothing is kept — do not contact or re-add", t.At.UTC().Format("2006-01-02"), t.Reason)}, nil
		}
	}
	var categories []string
	if p, ok := s.Catalog.Purpose(purpose); ok {
		categories = p.Categories
	}
	d := Decide(ledger, purpose, categories...)
	if d.Allowed {
		d.OptOutURL = s.PurposeUnsubscribeURL(ctx, subscriber, purpose)
	}
	return d, nil
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
	case MethodImport:
		return "an import"
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
