// Package consent is the domain core: the append-only consent ledger, the
// rules that derive a subscriber's state from it, and the sign-up and
// withdrawal use cases. It imports no HTTP, Lambda or AWS package; storage and
// mail are reached through the small interfaces in ports.go.
package consent

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/unbundled/unbundled/shared/magnet"
)

// EventType names what happened. Events are never edited or deleted in normal
// operation; state is always derived from the sequence of events.
type EventType string

const (
	// EventSignup: the person asked for a freebie (whatever their consent choice).
	EventSignup EventType = "signup"
	// EventGranted: the person ticked the unticked marketing checkbox.
	EventGranted EventType = "granted"
	// EventConfirmed: the person confirmed a granted consent by the emailed
	// link (double opt-in).
	EventConfirmed EventType = "confirmed"
	// EventWithdrawn: the person withdrew marketing consent.
	EventWithdrawn EventType = "withdrawn"
	// EventSuppressed: the address bounced permanently or complained, or
	// the operator suppressed it (with a Reason); no mail of any kind goes
	// to it until a later EventUnsuppressed. It applies to every magnet.
	EventSuppressed EventType = "suppressed"
	// EventUnsuppressed: the operator lifted the suppression standing
	// (with a Reason), e.g. after a mailbox that bounced works again. Mail
	// flows again; nothing else is revived — a complaint's withdrawals
	// stand.
	EventUnsuppressed EventType = "unsuppressed"
	// EventObjected: the person objected to direct marketing (UK GDPR
	// Art. 21(3)). It is permanent and covers every purpose: no marketing
	// of any kind, whatever is granted or imported later. Service messages
	// the person asks for (a freebie) still go out.
	EventObjected EventType = "objected"
	// EventImported: the operator imported the person's details with a
	// basis other than consent for one purpose — soft_opt_in (an existing
	// customer) or corporate (a contact at a registered company) — and the
	// evidence for it. It never overrides a withdrawal, objection,
	// suppression or erasure, before or after it.
	EventImported EventType = "imported"
	// EventRectified: the operator corrected the person's name (the right
	// to rectification); Name is the new name, empty if it was removed.
	// Emails greet the person by it from then on.
	EventRectified EventType = "rectified"
)

// Methods record how an event came about.
const (
	MethodForm            = "form"             // sign-up by an HTML form post
	MethodJSON            = "json"             // sign-up by a JSON API call
	MethodCheckbox        = "checkbox"         // consent by ticking the checkbox
	MethodOneClick        = "one-click"        // RFC 8058 List-Unsubscribe-Post
	MethodUnsubscribePage = "unsubscribe-page" // the button on our unsubscribe page
	MethodConfirmLink     = "confirm-link"     // the button behind the emailed confirm link
	MethodBounce          = "bounce"           // a permanent bounce reported by the mail provider
	MethodComplaint       = "complaint"        // a spam complaint reported by the mail provider
	MethodOperator        = "operator"         // recorded by the operator (e.g. an objection by letter or phone)
	MethodImport          = "import"           // a row of an operator's import file
)

// Event is one entry in a subscriber's ledger. Subscriber and Seq identify it:
// Seq counts from 1 per subscriber with no gaps, and a store refuses a second
// event at a taken position, which is what makes concurrent writers safe.
//
// All times are server UTC. The evidence fields (wording, policy, frequency,
// controller, source IP, user agent, request id) record what the person was
// shown and how the request reached us; nothing here comes from the client
// except the address, the name, the subscriber type and organisation the
// person states, the checkbox itself, and the page URL their browser
// reports.
type Event struct {
	Subscriber string    `json:"subscriber"`
	Seq        int       `json:"seq"`
	ID         string    `json:"id"`
	Type       EventType `json:"type"`
	At         time.Time `json:"at"`
	Magnet     string    `json:"magnet"`
	// Purpose is what a `granted`, `confirmed` or `withdrawn` event is for:
	// by default the controller-wide marketing purpose (see
	// magnet.ControllerPurpose). Events recorded before purposes existed
	// have none; EventPurpose maps them.
	Purpose string `json:"purpose,omitempty"`
	Email   string `json:"email"`
	Name    string `json:"name,omitempty"`
	// SubscriberType is, on a `signup` event for a magnet that asks
	// (magnet.Magnet.AskSubscriberType), who the person said they sign up
	// as: one of SubscriberTypes. It is empty where the form did not ask
	// (and on events recorded before it existed): an individual.
	SubscriberType string `json:"subscriber_type,omitempty"`
	// Organisation is, on a `signup` event with SubscriberType
	// SubscriberCompany, the organisation and the person's role there;
	// zero otherwise. It is a value, not a pointer, so events stay
	// comparable with ==; omitzero leaves it out of the JSON when zero.
	Organisation Organisation `json:"organisation,omitzero"`
	Method       string       `json:"method"`
	// WordingVersion is the archived wording version id (see WordingVersion)
	// that Wording, PrivacyPolicyURL, Frequency and Controller came from.
	WordingVersion   string `json:"wording_version,omitempty"`
	Wording          string `json:"wording,omitempty"`
	PrivacyPolicyURL string `json:"privacy_policy_url,omitempty"`
	Frequency        string `json:"frequency,omitempty"`
	Controller       string `json:"controller,omitempty"`
	// NoticeVersion is, on `signup` and `granted` events, the id of the
	// privacy notice in force when the form was sent (see Notice; archived
	// with the wording versions). Empty on events recorded before it
	// existed.
	NoticeVersion string `json:"notice_version,omitempty"`
	// WordingStatus is, on a `granted` event, how much the server knows
	// about the wording the person was shown: WordingVerified when the
	// sign-up named the wording version its form showed (an archived
	// version of this magnet's box, the current one or an older one), so
	// Wording is that version's archived text; WordingUnverified when it
	// named none (a hand-written form, a JSON call without
	// consent_version, and every extra purpose's box, whose version no
	// form names), so Wording is the wording configured at the time,
	// which the page may or may not have shown. Empty on events recorded
	// before it existed. The consent counts either way (MarketingStatus
	// does not look at it); a proof says which it is.
	WordingStatus string `json:"wording_status,omitempty"`
	// ConfirmationRequired is set on `granted` events that count only once
	// confirmed (the magnet had double opt-in on when consent was given).
	ConfirmationRequired bool `json:"confirmation_required,omitempty"`
	// Confirms is, on a `confirmed` event, the id of the `granted` event it
	// confirms (empty on events recorded before it existed: they confirmed
	// the grant then awaiting confirmation).
	Confirms string `json:"confirms,omitempty"`
	// Delivery is DeliveryLimited on a `signup` or `confirmed` event whose
	// email was not sent because the address had reached its email cap.
	Delivery  string `json:"delivery,omitempty"`
	SourceIP  string `json:"source_ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// PageURL is, on a `signup` event, the page the form was posted from,
	// as the browser's Referer or Origin header said — scheme, host and
	// path only, never a query or fragment; empty when neither was sent.
	PageURL string `json:"page_url,omitempty"`
	// Basis is, on an `imported` event, the basis the import claims for
	// Purpose: BasisSoftOptIn or BasisCorporate.
	Basis Basis `json:"basis,omitempty"`
	// Import is, on an `imported` event, the file it came from.
	Import ImportSource `json:"import,omitzero"`
	// SoftOptIn is, on an `imported` event with BasisSoftOptIn, the
	// evidence of the three conditions. A corporate import keeps the
	// company, its number and the person's role in Organisation.
	SoftOptIn SoftOptIn `json:"soft_opt_in,omitzero"`
	// LIAReference is, on an `imported` event with BasisCorporate, the
	// reference of the operator's legitimate-interests assessment.
	LIAReference string `json:"lia_reference,omitempty"`
	// Reason is, on a `suppressed` or `unsuppressed` event the operator
	// recorded, why (one line).
	Reason string `json:"reason,omitempty"`
}

// ImportSource says where an imported event came from: the file (its base
// name and SHA-256), the operator who ran the import, the source of the
// contacts they declared, and the row.
type ImportSource struct {
	File     string `json:"file"`
	Digest   string `json:"digest"`
	Operator string `json:"operator"`
	Source   string `json:"source"`
	Row      int    `json:"row"`
}

// SoftOptIn is the evidence for PECR regulation 22(3), one field per
// condition: the details were obtained in the course of a sale or
// negotiation of a sale (SaleDate, SaleReference); marketing is of similar
// products and services only (Category, matched against the purpose's
// declared categories); and the person was offered a free, simple opt-out
// when their details were collected (OptOutOffered says how).
type SoftOptIn struct {
	SaleDate      string `json:"sale_date"` // YYYY-MM-DD
	SaleReference string `json:"sale_reference"`
	Category      string `json:"category"`
	OptOutOffered string `json:"opt_out_offered"`
}

// What a `granted` event's WordingStatus can say.
const (
	// WordingVerified: the form named the wording version it showed.
	WordingVerified = "verified"
	// WordingUnverified: the form did not say which wording it showed;
	// the event quotes the wording configured at the time.
	WordingUnverified = "unverified"
)

// DeliveryLimited marks an event whose email was held back by the
// per-address email cap (see Limits).
const DeliveryLimited = "limited"

// State is where a subscriber's marketing consent for one magnet stands.
type State string

const (
	StateNone       State = "none"                  // never consented
	StatePending    State = "awaiting-confirmation" // granted, double opt-in not yet confirmed
	StateActive     State = "active"                // may be sent marketing
	StateWithdrawn  State = "withdrawn"             // withdrew; needs a fresh ticked box
	StateSuppressed State = "suppressed"            // bounced or complained: no mail at all, ever
	StateObjected   State = "objected"              // objected to direct marketing: no marketing, ever
)

// Status is a subscriber's marketing consent for one magnet, derived from
// the ledger alone.
type Status struct {
	State State
	// Since is when the current state began (zero for StateNone).
	Since time.Time
	// Reason says why, in words an operator can read.
	Reason string
	// Granted is the `granted` event the current consent rests on (zero
	// unless pending or active).
	Granted Event
	// Awaiting is a newer `granted` event (new wording on a magnet that asks
	// again) that awaits confirmation while the older consent stays active;
	// zero if there is none. Consent never goes backwards: until Awaiting is
	// confirmed, Granted still stands.
	Awaiting Event
}

// Eligible reports whether marketing may be sent: consent granted (and
// confirmed where double opt-in applied) and not since withdrawn.
func (s Status) Eligible() bool { return s.State == StateActive }

// Consented reports whether a consent stands, confirmed or not; such a person
// gets unsubscribe links and can withdraw.
func (s Status) Consented() bool { return s.State == StateActive || s.State == StatePending }

// EventPurpose is the purpose e concerns, given the ledger it belongs to.
// Events recorded before purposes existed map as documented in the README:
// a `granted` event to its controller's marketing purpose, and a
// `confirmed` or `withdrawn` event to the purpose of the latest grant for
// the same magnet before it — so per-magnet grants become the
// controller-wide purpose. An event with neither (no purpose, no
// controller, no earlier grant) stands for its magnet alone: "magnet:<id>".
func EventPurpose(ledger []Event, e Event) string {
	switch {
	case e.Purpose != "":
		return e.Purpose
	case e.Type == EventGranted && e.Controller != "":
		return magnet.ControllerPurpose(e.Controller)
	case e.Type == EventGranted:
		return "magnet:" + e.Magnet
	}
	for i := len(ledger) - 1; i >= 0; i-- {
		g := ledger[i]
		if g.Seq < e.Seq && g.Type == EventGranted && g.Magnet == e.Magnet {
			return EventPurpose(ledger, g)
		}
	}
	return "magnet:" + e.Magnet
}

// MarketingStatus derives the consent state for purpose from events
// (oldest first). It is the one eligibility rule every sender uses: a `granted` event
// makes consent active, or pending when it needs confirmation; a later
// `confirmed` makes pending consent active; a later `withdrawn` ends it.
// Consent never goes backwards: a grant that needs confirmation arriving
// while consent is active waits beside it (Status.Awaiting) and the active
// consent stands; a `confirmed` event confirms the grant it names.
// Re-consenting needs a new `granted` event. A `suppressed` event ends all
// mail until a later `unsuppressed` event (see Suppression), and an
// `objected` event all marketing for good, whenever it was recorded and
// whatever comes after.
func MarketingStatus(events []Event, purpose string) Status {
	st := Status{State: StateNone, Reason: "never consented"}
	if e, ok := SuppressedBy(events); ok {
		return Status{State: StateSuppressed, Since: e.At, Reason: suppressionReason(e)}
	}
	for _, e := range events {
		if e.Type == EventObjected {
			return Status{State: StateObjected, Since: e.At, Reason: "objected on " + stamp(e.At) + " via " + e.Method + ": do not contact"}
		}
	}
	for _, e := range events {
		if e.Type == EventSignup || EventPurpose(events, e) != purpose {
			continue
		}
		switch e.Type {
		case EventGranted:
			switch {
			case e.ConfirmationRequired && st.State == StateActive:
				st.Awaiting = e
			case e.ConfirmationRequired:
				st = Status{State: StatePending, Since: e.At, Granted: e, Reason: "awaiting confirmation since " + stamp(e.At)}
			default:
				st = Status{State: StateActive, Since: e.At, Granted: e, Reason: "consented on " + stamp(e.At) + " via " + e.Method}
			}
		case EventConfirmed:
			switch {
			case st.State == StatePending && (e.Confirms == "" || e.Confirms == st.Granted.ID):
				st.State, st.Since = StateActive, e.At
				st.Reason = "consented on " + stamp(st.Granted.At) + " via " + st.Granted.Method + ", confirmed on " + stamp(e.At)
			case st.Awaiting.ID != "" && (e.Confirms == "" || e.Confirms == st.Awaiting.ID):
				g := st.Awaiting
				st = Status{State: StateActive, Since: e.At, Granted: g,
					Reason: "consented on " + stamp(g.At) + " via " + g.Method + ", confirmed on " + stamp(e.At)}
			}
		case EventWithdrawn:
			if st.Consented() {
				st = Status{State: StateWithdrawn, Since: e.At, Reason: "withdrawn on " + stamp(e.At) + " via " + e.Method}
			}
		}
	}
	return st
}

// AwaitingConfirmation returns the grant that awaits confirmation — the
// pending grant, or a newer one awaiting while older consent stays active —
// and whether there is one.
func (s Status) AwaitingConfirmation() (Event, bool) {
	switch {
	case s.State == StatePending:
		return s.Granted, true
	case s.State == StateActive && s.Awaiting.ID != "":
		return s.Awaiting, true
	}
	return Event{}, false
}

func suppressionReason(e Event) string {
	switch e.Method {
	case MethodComplaint:
		return "suppressed on " + stamp(e.At) + " after a spam complaint"
	case MethodOperator:
		return "suppressed on " + stamp(e.At) + " by the operator: " + e.Reason
	}
	return "suppressed on " + stamp(e.At) + " after a permanent bounce"
}

// Suppressed reports whether a suppression stands in the ledger (see
// SuppressedBy), and the reason: then no mail of any kind may be sent to
// the address.
func Suppressed(events []Event) (bool, string) {
	if e, ok := SuppressedBy(events); ok {
		return true, suppressionReason(e)
	}
	return false, ""
}

// SuppressedBy returns the `suppressed` event that began the suppression
// standing in events (oldest first), and whether one stands: an address
// is suppressed when its latest `suppressed` event comes after its latest
// `unsuppressed` event, in ledger order. The event returned is the first
// `suppressed` event after that `unsuppressed` one.
func SuppressedBy(events []Event) (Event, bool) {
	var began Event
	for _, e := range events {
		switch {
		case e.Type == EventUnsuppressed:
			began = Event{}
		case e.Type == EventSuppressed && began.Type == "":
			began = e
		}
	}
	return began, began.Type != ""
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// NextSeq is the position the next event appended after events takes.
func NextSeq(events []Event) int {
	if len(events) == 0 {
		return 1
	}
	return events[len(events)-1].Seq + 1
}

// NewEventID returns a unique, roughly time-ordered event id.
func NewEventID(now time.Time) string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return fmt.Sprintf("%013x%s", now.UnixMilli(), hex.EncodeToString(b))
}
