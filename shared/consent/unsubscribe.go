package consent

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/unbundled/unbundled/shared/magnet"
)

// PurposeUnsubscribe is the token purpose of unsubscribe links.
const PurposeUnsubscribe = "unsubscribe"

// UnsubscribeTarget is who and what an unsubscribe link concerns.
type UnsubscribeTarget struct {
	Subscriber string
	// Magnet is the magnet whose email carried the link.
	Magnet magnet.Magnet
	// Purpose is what one-click unsubscribing withdraws: the purpose that
	// email was sent under — by default marketing email from the magnet's
	// controller, shared by all of the controller's magnets.
	Purpose string
	// MaskedEmail lets the owner recognise the address ("j•••@e•••.com")
	// without showing it to whoever holds the link.
	MaskedEmail string
}

// CheckUnsubscribeToken verifies an unsubscribe token without changing
// anything. Every bad token gives ErrBadToken. A link for a magnet that has
// since been removed from the configuration still works — withdrawal must
// stay possible — with a stand-in magnet that has only its id and a
// neutral title.
func (s *Service) CheckUnsubscribeToken(tok string) (UnsubscribeTarget, error) {
	c, err := s.Keys.Signing.Verify(PurposeUnsubscribe, tok, s.Now())
	if err != nil || c.Scope == "" {
		return UnsubscribeTarget{}, ErrBadToken
	}
	m, ok := s.Catalog.Get(c.Scope)
	if !ok {
		m = retiredMagnet(c.Scope)
	}
	return UnsubscribeTarget{Subscriber: c.Subject, Magnet: m, Purpose: m.PurposeID()}, nil
}

// retiredPurpose is the purpose of the latest grant recorded for a magnet
// no longer configured.
func retiredPurpose(ledger []Event, magnetID string) string {
	for i := len(ledger) - 1; i >= 0; i-- {
		if e := ledger[i]; e.Type == EventGranted && e.Magnet == magnetID {
			return EventPurpose(ledger, e)
		}
	}
	return "magnet:" + magnetID
}

// retiredMagnet stands in for a magnet no longer configured, so its
// subscribers can still withdraw.
func retiredMagnet(id string) magnet.Magnet {
	return magnet.Magnet{ID: id, Title: "a download no longer offered", SenderName: "the sender", Frequency: "marketing"}
}

// DescribeUnsubscribe verifies an unsubscribe token and adds the masked
// address for the page. It only reads.
func (s *Service) DescribeUnsubscribe(ctx context.Context, tok string) (UnsubscribeTarget, error) {
	t, err := s.CheckUnsubscribeToken(tok)
	if err != nil {
		return t, err
	}
	ledger, err := s.Ledger.Events(ctx, t.Subscriber)
	if err != nil {
		return t, fmt.Errorf("read ledger: %w", err)
	}
	if email := lastEmail(ledger); email != "" {
		t.MaskedEmail = MaskAddress(email)
	}
	if _, configured := s.Catalog.Get(t.Magnet.ID); !configured {
		t.Purpose = retiredPurpose(ledger, t.Magnet.ID)
		if c := MarketingStatus(ledger, t.Purpose).Granted.Controller; c != "" {
			t.Magnet.SenderName = c
		}
	}
	return t, nil
}

// Withdraw withdraws marketing consent for the purpose the token's email
// was sent under by appending a `withdrawn` event — the one-click
// unsubscribe. It is idempotent: if consent is not currently given
// (already withdrawn, or never granted) nothing is written and it still
// succeeds, so replays and double clicks are harmless.
func (s *Service) Withdraw(ctx context.Context, tok, method string, ev Evidence) (UnsubscribeTarget, error) {
	return s.withdraw(ctx, tok, method, ev, false)
}

// WithdrawController withdraws every consent that stands for the token's
// controller — its controller-wide purpose and any narrower ones: "stop
// all marketing from <controller>". Idempotent like Withdraw.
func (s *Service) WithdrawController(ctx context.Context, tok, method string, ev Evidence) (UnsubscribeTarget, error) {
	return s.withdraw(ctx, tok, method, ev, true)
}

func (s *Service) withdraw(ctx context.Context, tok, method string, ev Evidence, all bool) (UnsubscribeTarget, error) {
	t, err := s.CheckUnsubscribeToken(tok)
	if err != nil {
		return t, err
	}
	err = s.commitAfterLedger(ctx, t.Subscriber, withdrawRetry, func(ledger []Event) (Write, error) {
		if _, configured := s.Catalog.Get(t.Magnet.ID); !configured {
			t.Purpose = retiredPurpose(ledger, t.Magnet.ID)
		}
		purposes := []string{t.Purpose}
		if all {
			purposes = controllerPurposes(ledger, t.Purpose)
		}
		now := s.Now().UTC()
		var w Write
		for _, p := range purposes {
			if !MarketingStatus(ledger, p).Consented() {
				continue
			}
			w.Events = append(w.Events, Event{
				Subscriber: t.Subscriber, ID: NewEventID(now), Type: EventWithdrawn, At: now, Magnet: t.Magnet.ID, Purpose: p,
				Email: lastEmail(ledger), Method: method,
				SourceIP: ev.SourceIP, UserAgent: ev.UserAgent, RequestID: ev.RequestID,
			})
		}
		return s.withNotifications(ctx, w), nil
	})
	if err != nil {
		return t, fmt.Errorf("record withdrawal: %w", err)
	}
	return t, nil
}

// controllerPurposes lists the purposes in ledger that belong to the
// controller purpose's controller, with purpose itself first.
func controllerPurposes(ledger []Event, purpose string) []string {
	controller, _, _ := strings.Cut(purpose, "/")
	ps := []string{purpose}
	if controller != purpose {
		ps = append(ps, controller)
	}
	for _, e := range ledger {
		p := EventPurpose(ledger, e)
		if e.Type == EventGranted && magnet.WithinController(p, controller) && !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return ps
}
