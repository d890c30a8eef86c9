package consent

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/token"
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
	// Direct is set for a link made for a message the business sent on a
	// may-email answer (Decision.OptOutURL) rather than one of our magnet
	// emails; Magnet then stands in for the purpose's controller and has
	// no id or title.
	Direct bool
	// AlreadyUnsubscribed (set by DescribeUnsubscribe, read-only): nothing
	// stands for Purpose any more — withdrawn, objected to, or never held —
	// so the link's button would change nothing.
	AlreadyUnsubscribed bool
	// OtherMarketing (with AlreadyUnsubscribed): other marketing from the
	// same controller still stands, which "stop all marketing" would end.
	OtherMarketing bool
}

// PurposeUnsubscribeURL is a one-click unsubscribe link for a message sent
// to subscriber for purpose on a may-email answer. Unsubscribing by it
// withdraws the purpose (or, for a corporate contact, records an
// objection) like the link in a magnet's email.
func (s *Service) PurposeUnsubscribeURL(ctx context.Context, subscriber, purpose string) string {
	tok := s.Keys.Signing.Sign(token.Claims{Purpose: PurposeUnsubscribe, Subject: subscriber, Scope: purpose})
	return s.baseURL(ctx) + "/unsubscribe?t=" + url.QueryEscape(tok)
}

// purposeMagnet stands in for the controller of purpose on the unsubscribe
// pages of a Direct link: the controller's sender name and description and,
// for a purpose narrower than the controller's, that purpose.
func (s *Service) purposeMagnet(purpose string) magnet.Magnet {
	controller, narrow, _ := strings.Cut(purpose, "/")
	stand := magnet.Magnet{SenderName: "the sender", Frequency: "marketing"}
	for _, m := range s.Catalog.All() {
		if magnet.ControllerPurpose(m.Controller) != controller {
			continue
		}
		if stand.Controller == "" {
			stand.SenderName, stand.Controller, stand.Frequency = m.SenderName, m.Controller, m.Frequency
		}
		if narrow == "" {
			break
		}
		if m.Purpose != nil && m.PurposeID() == purpose {
			stand.Purpose = m.Purpose
		}
		for _, x := range m.ExtraPurposes {
			if m.ExtraPurposeID(x) == purpose {
				stand.Purpose = &magnet.Purpose{ID: x.ID, Name: x.Name}
			}
		}
	}
	if narrow != "" && stand.Purpose == nil {
		stand.Purpose = &magnet.Purpose{ID: narrow, Name: narrow}
	}
	return stand
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
	if strings.Contains(c.Scope, ":") { // a purpose: a Direct link
		return UnsubscribeTarget{Subscriber: c.Subject, Magnet: s.purposeMagnet(c.Scope), Purpose: c.Scope, Direct: true}, nil
	}
	m, ok := s.Catalog.Get(c.Scope)
	if !ok {
		m = retiredMagnet(c.Scope)
	}
	return UnsubscribeTarget{Subscriber: c.Subject, Magnet: m, Purpose: m.PurposeID()}, nil
}

// retiredPurpose is the purpose of the latest grant recorded for a magnet
// no longer configured.
// A sign-up writes its main box's grant straight after the `signup` event
// and any extra boxes' grants after that, so the grant that follows a
// `signup` is the main purpose's; an extra's grant is used only if the
// magnet has no other.
func retiredPurpose(ledger []Event, magnetID string) string {
	fallback := ""
	for i := len(ledger) - 1; i >= 0; i-- {
		e := ledger[i]
		if e.Type != EventGranted || e.Magnet != magnetID {
			continue
		}
		if i > 0 && ledger[i-1].Type == EventSignup {
			return EventPurpose(ledger, e)
		}
		if fallback == "" {
			fallback = EventPurpose(ledger, e)
		}
	}
	if fallback != "" {
		return fallback
	}
	return "magnet:" + magnetID
}

// retiredMagnet stands in for a magnet no longer configured, so its
// subscribers can still withdraw.
func retiredMagnet(id string) magnet.Magnet {
	return magnet.Magnet{ID: id, Title: "a download no longer offered", SenderName: "the sender", Frequency: "marketing"}
}

// DescribeUnsubscribe verifies an unsubscribe token and adds the masked
// address for the page, and whether the link has anything left to stop
// (AlreadyUnsubscribed, OtherMarketing). It only reads.
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
	if _, configured := s.Catalog.Get(t.Magnet.ID); !configured && !t.Direct {
		t.Purpose = retiredPurpose(ledger, t.Magnet.ID)
		if c := MarketingStatus(ledger, t.Purpose).Granted.Controller; c != "" {
			t.Magnet.SenderName = c
		}
	}
	if _, ok := leaveAs(ledger, t.Purpose); !ok {
		t.AlreadyUnsubscribed = true
		for _, p := range controllerPurposes(ledger, t.Purpose)[1:] {
			if _, ok := leaveAs(ledger, p); ok {
				t.OtherMarketing = true
			}
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
		if _, configured := s.Catalog.Get(t.Magnet.ID); !configured && !t.Direct {
			t.Purpose = retiredPurpose(ledger, t.Magnet.ID)
		}
		purposes := []string{t.Purpose}
		if all {
			purposes = controllerPurposes(ledger, t.Purpose)
		}
		now := s.Now().UTC()
		var w Write
		objected := false
		for _, p := range purposes {
			typ, ok := leaveAs(ledger, p)
			if !ok || typ == EventObjected && objected {
				continue
			}
			e := Event{
				Subscriber: t.Subscriber, ID: NewEventID(now), Type: typ, At: now, Magnet: t.Magnet.ID, Purpose: p,
				Email: lastEmail(ledger), Method: method,
				SourceIP: ev.SourceIP, UserAgent: ev.UserAgent, RequestID: ev.RequestID,
			}
			if typ == EventObjected {
				// An objection is for every purpose: it names none.
				objected, e.Purpose = true, ""
			}
			w.Events = append(w.Events, e)
		}
		return s.withNotifications(ctx, w), nil
	})
	if err != nil {
		return t, fmt.Errorf("record withdrawal: %w", err)
	}
	return t, nil
}

// leaveAs says what unsubscribing from purpose records, if anything: a
// `withdrawn` event where consent stands or a soft opt-in was imported (and
// not already withdrawn), an `objected` event where a corporate contact was
// imported — a named person's objection, permanent — and nothing otherwise.
func leaveAs(ledger []Event, purpose string) (EventType, bool) {
	if MarketingStatus(ledger, purpose).Consented() {
		return EventWithdrawn, true
	}
	if Decide(ledger, purpose).Basis == BasisObjected {
		return "", false
	}
	imported, ok := lastImport(ledger, purpose)
	if _, withdrew := withdrawalFrom(ledger, purpose); !ok || withdrew {
		return "", false
	}
	if imported.Basis == BasisCorporate {
		return EventObjected, true
	}
	return EventWithdrawn, true
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
		if (e.Type == EventGranted || e.Type == EventImported) && magnet.WithinController(p, controller) && !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	return ps
}
