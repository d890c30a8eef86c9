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
	Subscriber string    `json:"subscriber"`
	ExportedAt time.Time `json:"exported_at"`
	// Events is their whole ledger, oldest first, with every piece of
	// evidence recorded.
	Events []Event `json:"events"`
	// Decisions says, for every configured purpose, whether they may be
	// sent marketing and why.
	Decisions []Decision `json:"decisions"`
}

// Export gathers everything held on the person with this address. A bad
// address is a *ValidationError.
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
	x := Export{Email: email, Subscriber: subscriber, ExportedAt: s.Now().UTC(), Events: ledger}
	for _, p := range s.Catalog.Purposes() {
		d, err := s.MayEmail(ctx, email, p.ID)
		if err != nil {
			return Export{}, fmt.Errorf("export: %w", err)
		}
		d.OptOutURL = ""
		x.Decisions = append(x.Decisions, d)
	}
	return x, nil
}
