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
)

// EventType names what happened. Events are never edited or deleted in normal
// operation; state is always derived from the sequence of events.
type EventType string

const (
	// EventSignup: the person asked for a freebie (whatever their consent choice).
	EventSignup EventType = "signup"
	// EventGranted: the person ticked the unticked marketing checkbox.
	EventGranted EventType = "granted"
	// EventWithdrawn: the person withdrew marketing consent.
	EventWithdrawn EventType = "withdrawn"
)

// Methods record how an event came about.
const (
	MethodForm            = "form"             // sign-up by an HTML form post
	MethodJSON            = "json"             // sign-up by a JSON API call
	MethodCheckbox        = "checkbox"         // consent by ticking the checkbox
	MethodOneClick        = "one-click"        // RFC 8058 List-Unsubscribe-Post
	MethodUnsubscribePage = "unsubscribe-page" // the button on our unsubscribe page
)

// Event is one entry in a subscriber's ledger. Subscriber and Seq identify it:
// Seq counts from 1 per subscriber with no gaps, and a store refuses a second
// event at a taken position, which is what makes concurrent writers safe.
//
// All times are server UTC. The evidence fields (wording, policy, frequency,
// controller, source IP, user agent, request id) record what the person was
// shown and how the request reached us; nothing here comes from the client
// except the address, the name and the checkbox itself.
type Event struct {
	Subscriber       string    `json:"subscriber"`
	Seq              int       `json:"seq"`
	ID               string    `json:"id"`
	Type             EventType `json:"type"`
	At               time.Time `json:"at"`
	Magnet           string    `json:"magnet"`
	Email            string    `json:"email"`
	Name             string    `json:"name,omitempty"`
	Method           string    `json:"method"`
	Wording          string    `json:"wording,omitempty"`
	PrivacyPolicyURL string    `json:"privacy_policy_url,omitempty"`
	Frequency        string    `json:"frequency,omitempty"`
	Controller       string    `json:"controller,omitempty"`
	SourceIP         string    `json:"source_ip,omitempty"`
	UserAgent        string    `json:"user_agent,omitempty"`
	RequestID        string    `json:"request_id,omitempty"`
}

// Status is a subscriber's marketing consent for one magnet, derived from the
// ledger.
type Status struct {
	Granted bool
	// Since is when the current state began (zero if nothing happened yet).
	Since time.Time
	// Reason says why, in words an operator can read.
	Reason string
}

// MarketingStatus derives the consent state for magnetID from events (oldest
// first): granted by a `granted` event, ended by a later `withdrawn` one.
func MarketingStatus(events []Event, magnetID string) Status {
	st := Status{Reason: "never consented"}
	for _, e := range events {
		if e.Magnet != magnetID {
			continue
		}
		switch e.Type {
		case EventGranted:
			st = Status{Granted: true, Since: e.At, Reason: "consented on " + e.At.Format(time.RFC3339) + " via " + e.Method}
		case EventWithdrawn:
			st = Status{Since: e.At, Reason: "withdrawn on " + e.At.Format(time.RFC3339) + " via " + e.Method}
		}
	}
	return st
}

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
