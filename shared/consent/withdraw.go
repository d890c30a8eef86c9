package consent

import (
	"context"
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
// has active marketing consent for any magnet, it is emailed one link per
// such magnet to the unsubscribe page. The outcome is deliberately invisible
// to the caller — known, unknown and rate-limited addresses all return nil —
// so the answer cannot be used to test whether someone is subscribed. An
// invalid address is a *ValidationError.
func (s *Service) RequestWithdrawalLinks(ctx context.Context, address string) error {
	email, err := NormaliseAddress(address)
	if err != nil {
		return &ValidationError{Fields: map[string]string{"email": "Enter a valid email address, like name@example.com."}}
	}
	subscriber := s.Keys.Subject.SubscriberID(email)
	now := s.Now().UTC()
	// Claim before reading so known and unknown addresses cost the same.
	first, err := s.Store.Claim(ctx, "withdraw-link#"+subscriber, now, now.Add(WithdrawalLinkWindow))
	if err != nil {
		return fmt.Errorf("rate-limit withdrawal links: %w", err)
	}
	if !first {
		return nil
	}
	ledger, err := s.Store.Ledger(ctx, subscriber)
	if err != nil {
		return fmt.Errorf("read ledger: %w", err)
	}
	for _, m := range s.Catalog.All() {
		if !MarketingStatus(ledger, m.ID).Consented() {
			continue
		}
		msg, err := s.withdrawalMessage(ctx, m, email, subscriber)
		if err != nil {
			return err
		}
		if _, err := s.Mailer.Send(ctx, msg); err != nil {
			return fmt.Errorf("send withdrawal link: %w", err)
		}
	}
	return nil
}

// withdrawalMessage is a service message: it carries the link to the
// unsubscribe page (which changes nothing until its button is pressed), so a
// stranger who typed someone's address cannot unsubscribe them.
func (s *Service) withdrawalMessage(ctx context.Context, m magnet.Magnet, email, subscriber string) (Message, error) {
	d := freebieData{Magnet: m, UnsubscribeURL: s.UnsubscribeURL(ctx, subscriber, m.ID), PrivacyURL: s.absoluteURL(ctx, m.PrivacyPolicyURL)}
	msg, err := render(withdrawText, withdrawHTML, d)
	if err != nil {
		return Message{}, err
	}
	msg.Subject = "Your unsubscribe link for " + m.SenderName
	s.address(&msg, m, email)
	return msg, nil
}
