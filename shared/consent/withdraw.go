package consent

import (
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"
	"time"

	"github.com/unbundled/unbundled/shared/magnet"
)

// WithdrawalLinkWindow is how long after one withdrawal-link request further
// requests for the same address send nothing (they still get the same answer).
const WithdrawalLinkWindow = 15 * time.Minute

var (
	withdrawText = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/withdraw.txt.tmpl"))
	withdrawHTML = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/withdraw.html.tmpl"))
)

// RequestWithdrawalLinks serves people who lost our emails: if the address
// has consent standing for any magnet, it is emailed one link per such
// magnet to the unsubscribe page. The outcome is deliberately invisible to
// the caller — known, unknown and rate-limited addresses all return nil and
// all write the same rate-limit record — so the answer cannot be used to
// test whether someone is subscribed. An invalid address is a
// *ValidationError; a source over its limit a *RateLimitError (counted per
// source, never per address, so it reveals nothing about the address).
func (s *Service) RequestWithdrawalLinks(ctx context.Context, address string, ev Evidence) error {
	email, err := NormaliseAddress(address)
	if err != nil {
		return &ValidationError{Fields: map[string]string{"email": "Enter a valid email address, like name@example.com."}}
	}
	if err := s.CheckSource(ctx, ev.SourceIP); err != nil {
		return err
	}
	subscriber := s.Keys.Subject.SubscriberID(email)
	ledger, err := s.Ledger.Events(ctx, subscriber)
	if err != nil {
		return fmt.Errorf("read ledger: %w", err)
	}
	now := s.Now().UTC()
	w := Write{Claims: []ClaimRecord{{Key: "withdraw-link#" + subscriber, ExpiresAt: now.Add(WithdrawalLinkWindow)}}, Now: now}
	var jobs []Job
	linked := map[string]bool{} // one link per controller, from its first magnet
	for _, m := range s.Catalog.All() {
		controller := magnet.ControllerPurpose(m.Controller)
		if !linked[controller] && canLeave(ledger, controller) {
			linked[controller] = true
			jobs = append(jobs, s.newJob(ctx, JobWithdrawLink, subscriber, m.ID, email, ""))
		}
	}
	if len(jobs) > 0 {
		// The links count as one email against the address's cap: past it,
		// nothing is sent and the answer is the same.
		slot, ok, err := s.mailSlot(ctx, subscriber)
		if err != nil {
			return fmt.Errorf("queue withdrawal links: %w", err)
		}
		if ok {
			w.Jobs, w.Claims = jobs, append(w.Claims, slot...)
		}
	}
	switch err := s.Ledger.Commit(ctx, w); {
	case errors.Is(err, ErrClaimTaken):
		return nil // rate-limited: same answer, nothing sent
	case err != nil:
		return fmt.Errorf("queue withdrawal links: %w", err)
	}
	s.kick(w)
	return nil
}

// canLeave reports whether the person has any marketing of the controller
// (controllerPurpose) to leave: consent given for one of its purposes —
// the main one, a narrower one, an extra box — or an imported basis that
// still stands. Their withdrawal link's page stops all of it.
func canLeave(ledger []Event, controllerPurpose string) bool {
	for _, p := range controllerPurposes(ledger, controllerPurpose) {
		if _, ok := leaveAs(ledger, p); ok {
			return true
		}
	}
	return false
}

// withdrawalMessage is a service message: it carries the link to the
// unsubscribe page (which changes nothing until its button is pressed), so a
// stranger who typed someone's address cannot unsubscribe them.
func (s *Service) withdrawalMessage(ctx context.Context, m magnet.Magnet, subscriber string) (Message, error) {
	d := freebieData{Magnet: m, UnsubscribeURL: s.UnsubscribeURL(ctx, subscriber, m.ID), PrivacyURL: s.absoluteURL(ctx, m.PrivacyPolicyURL)}
	msg, err := render(withdrawText, withdrawHTML, d)
	if err != nil {
		return Message{}, err
	}
	msg.Subject = "Your unsubscribe link for " + m.SenderName
	return msg, nil
}
