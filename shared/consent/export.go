package consent

import (
	"context"
	"fmt"
	"time"
)

// Export is everything held on one person (the right of access), as the
// operator's `unbundled export` and the self-service data page give it.
type Export struct {
	Email      string    `json:"email"`
	Subscriber string    `json:"subscriber,omitempty"`
	ExportedAt time.Time `json:"exported_at"`
	// Name is the name held now (see CurrentName); empty if none.
	Name string `json:"name,omitempty"`
	// Erased is, for a person who was erased and has not signed up since,
	// the tombstone: all that is kept (a keyed hash of the address, when
	// and why). Nothing else is held then, and nothing else is exported.
	Erased *Tombstone `json:"erased,omitempty"`
	// Events is their whole ledger, oldest first, with every piece of
	// evidence recorded.
	Events []Event `json:"events"`
	// Decisions says, for every configured purpose, whether they may be
	// sent marketing and why.
	Decisions []Decision `json:"decisions"`
	// Deliveries are the emails (and webhook notifications) queued about
	// them, oldest first, with what became of each; delivery records
	// expire JobTTL after they were created. Nil if the service has no
	// Jobs store.
	Deliveries []Delivery `json:"deliveries"`
}

// Export gathers everything held on the person with this address: their
// ledger, the decisions derived from it, and their deliveries — or, for a
// person erased since, only that they were (the tombstone). A bad address
// is a *ValidationError.
func (s *Service) Export(ctx context.Context, address string) (Export, error) {
	email, err := NormaliseAddress(address)
	if err != nil {
		return Export{}, &ValidationError{Fields: map[string]string{"email": "Enter a valid email address, like name@example.com."}}
	}
	subscriber := s.Keys.Subject.SubscriberID(email)
	ledger, err := s.Ledger.Events(ctx, subscriber)
	if err != nil {
		return Export{}, fmt.Errorf("export: read ledger: %w", err)
	}
	x := Export{Email: email, Subscriber: subscriber, ExportedAt: s.Now().UTC(), Name: CurrentName(ledger), Events: ledger}
	if len(ledger) == 0 {
		t, erased, err := s.tombstone(ctx, email)
		if err != nil {
			return Export{}, fmt.Errorf("export: %w", err)
		}
		if erased {
			return Export{Email: email, ExportedAt: x.ExportedAt, Erased: &t, Events: []Event{}, Decisions: []Decision{}, Deliveries: []Delivery{}}, nil
		}
	}
	if x.Events == nil {
		x.Events = []Event{}
	}
	if s.Jobs != nil {
		if x.Deliveries, err = s.deliveries(ctx, subscriber); err != nil {
			return Export{}, fmt.Errorf("export: %w", err)
		}
	}
	// The ledger is read once: each purpose's answer is the one rule
	// applied to it (MayEmail would read it again per purpose).
	for _, p := range s.Catalog.Purposes() {
		x.Decisions = append(x.Decisions, Decide(ledger, p.ID, p.Categories...))
	}
	return x, nil
}
