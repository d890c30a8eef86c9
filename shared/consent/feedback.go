package consent

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// FeedbackDedupeTTL is how long a notification id is remembered, so a
// redelivered notification is recorded once.
const FeedbackDedupeTTL = 30 * 24 * time.Hour

// consentedPurposes lists, latest first, every purpose — of configured
// magnets or of ones since removed — for which consent stands in ledger,
// with the magnet of its latest grant.
func consentedPurposes(ledger []Event) (purposes, magnets []string) {
	seen := map[string]bool{}
	for i := len(ledger) - 1; i >= 0; i-- {
		e := ledger[i]
		p := EventPurpose(ledger, e)
		if e.Type != EventGranted || seen[p] {
			continue
		}
		seen[p] = true
		if MarketingStatus(ledger, p).Consented() {
			purposes, magnets = append(purposes, p), append(magnets, e.Magnet)
		}
	}
	return purposes, magnets
}

// RecordFeedback records a bounce or complaint from the mail provider. A
// permanent bounce appends `suppressed` (no mail of any kind again); a
// complaint also withdraws every consent that stands (method complaint).
// The same notification recorded twice is a no-op. Recipients that are not
// valid addresses are ignored.
func (s *Service) RecordFeedback(ctx context.Context, f Feedback) error {
	method := MethodBounce
	switch f.Kind {
	case FeedbackPermanentBounce:
	case FeedbackComplaint:
		method = MethodComplaint
	default:
		return fmt.Errorf("record feedback: unknown kind %q", f.Kind)
	}
	for _, r := range f.Recipients {
		email, err := NormaliseAddress(r)
		if err != nil {
			continue
		}
		subscriber := s.Keys.Subject.SubscriberID(email)
		now := s.Now().UTC()
		err = s.commitAfterLedger(ctx, subscriber, withdrawRetry, func(ledger []Event) (Write, error) {
			w := Write{
				Events: []Event{{Subscriber: subscriber, ID: NewEventID(now), Type: EventSuppressed, At: now, Email: email, Method: method}},
				Claims: []ClaimRecord{{Key: "feedback#" + digest(f.ID, subscriber), ExpiresAt: now.Add(FeedbackDedupeTTL)}},
			}
			if method == MethodComplaint {
				purposes, magnets := consentedPurposes(ledger)
				for i, p := range purposes {
					w.Events = append(w.Events, Event{Subscriber: subscriber, ID: NewEventID(now), Type: EventWithdrawn, At: now, Magnet: magnets[i], Purpose: p, Email: email, Method: MethodComplaint})
				}
			}
			return s.withNotifications(ctx, w), nil
		})
		if err != nil && !errors.Is(err, ErrClaimTaken) {
			return fmt.Errorf("record %s: %w", f.Kind, err)
		}
	}
	return nil
}
