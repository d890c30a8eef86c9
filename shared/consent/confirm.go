package consent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	texttemplate "text/template"
	"time"

	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/token"
)

// PurposeConfirm is the token purpose of double opt-in confirm links.
const PurposeConfirm = "confirm"

// ConfirmResendWindow: after one resend request, further ones for the same
// subscriber and magnet send nothing until it passes.
const ConfirmResendWindow = 15 * time.Minute

// ErrLinkExpired is returned for a genuine confirm link past its expiry; the
// page offers to send a new one.
var ErrLinkExpired = errors.New("link expired")

var (
	confirmText = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/confirm.txt.tmpl"))
	confirmHTML = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/confirm.html.tmpl"))
	receiptText = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/receipt.txt.tmpl"))
	receiptHTML = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/receipt.html.tmpl"))
)

// ConfirmTarget is what a confirm link concerns.
type ConfirmTarget struct {
	Subscriber  string
	Magnet      magnet.Magnet
	MaskedEmail string
	// Status is the consent state now (after Confirm: after confirming).
	Status Status
	// Wording is the archived wording the person agreed to.
	Wording WordingVersion
}

// ConfirmURL is a signed confirm link that expires after the magnet's
// confirm expiry.
func (s *Service) ConfirmURL(ctx context.Context, subscriber string, m magnet.Magnet) string {
	tok := s.Keys.Signing.Sign(token.Claims{Purpose: PurposeConfirm, Subject: subscriber, Scope: m.ID, Expires: s.Now().Add(m.ConfirmExpiry())})
	return s.baseURL(ctx) + "/confirm?t=" + url.QueryEscape(tok)
}

// DescribeConfirmation reads what a confirm link concerns without changing
// anything. Bad links give ErrBadToken; expired ones ErrLinkExpired, with
// the target filled in.
func (s *Service) DescribeConfirmation(ctx context.Context, tok string) (ConfirmTarget, error) {
	t, err := s.confirmTarget(tok)
	if err != nil && !errors.Is(err, ErrLinkExpired) {
		return t, err
	}
	ledger, lerr := s.Store.Ledger(ctx, t.Subscriber)
	if lerr != nil {
		return t, fmt.Errorf("read ledger: %w", lerr)
	}
	if werr := s.describe(ctx, &t, ledger); werr != nil {
		return t, werr
	}
	return t, err
}

func (s *Service) confirmTarget(tok string) (ConfirmTarget, error) {
	c, err := s.Keys.Signing.Verify(PurposeConfirm, tok, s.Now())
	if err != nil && !errors.Is(err, token.ErrExpired) {
		return ConfirmTarget{}, ErrBadToken
	}
	m, ok := s.Catalog.Get(c.Scope)
	if !ok {
		return ConfirmTarget{}, ErrUnknownMagnet
	}
	t := ConfirmTarget{Subscriber: c.Subject, Magnet: m}
	if err != nil {
		return t, ErrLinkExpired
	}
	return t, nil
}

// describe fills in the masked address, status and the archived wording of
// the consent the link concerns.
func (s *Service) describe(ctx context.Context, t *ConfirmTarget, ledger []Event) error {
	t.Status = MarketingStatus(ledger, t.Magnet.ID)
	if email := lastEmail(ledger); email != "" {
		t.MaskedEmail = MaskAddress(email)
	}
	g := t.Status.Granted
	if g.WordingVersion == "" {
		return nil
	}
	v, err := s.Store.Wording(ctx, t.Magnet.ID, g.WordingVersion)
	if err != nil {
		return fmt.Errorf("read archived wording: %w", err)
	}
	t.Wording = v
	return nil
}

// Confirm records a `confirmed` event for consent awaiting confirmation and,
// if the magnet sends receipts, emails one. Confirming twice, or after a
// scanner opened the link, writes nothing more and still succeeds; consent
// that is not pending (never given, withdrawn) is left alone. Expired links
// give ErrLinkExpired and write nothing.
func (s *Service) Confirm(ctx context.Context, tok string, ev Evidence) (ConfirmTarget, error) {
	t, err := s.confirmTarget(tok)
	if err != nil {
		return t, err
	}
	var confirmed *Event
	err = s.appendAfterLedger(ctx, t.Subscriber, func(ledger []Event) []Event {
		confirmed = nil
		st := MarketingStatus(ledger, t.Magnet.ID)
		if st.State != StatePending {
			return nil
		}
		g := st.Granted
		confirmed = &Event{
			Subscriber: t.Subscriber, Type: EventConfirmed, At: s.Now().UTC(), Magnet: t.Magnet.ID,
			Email: g.Email, Method: MethodConfirmLink, WordingVersion: g.WordingVersion,
			SourceIP: ev.SourceIP, UserAgent: ev.UserAgent, RequestID: ev.RequestID,
		}
		return []Event{*confirmed}
	})
	if err != nil {
		return t, fmt.Errorf("record confirmation: %w", err)
	}
	ledger, err := s.Store.Ledger(ctx, t.Subscriber)
	if err != nil {
		return t, fmt.Errorf("read ledger: %w", err)
	}
	if err := s.describe(ctx, &t, ledger); err != nil {
		return t, err
	}
	// Only the request that wrote the confirmation sends the receipt, so it
	// goes out once.
	if confirmed != nil && t.Magnet.SendsReceipt() {
		if err := s.sendReceipt(ctx, t, confirmed.Email, confirmed.At); err != nil {
			return t, err
		}
	}
	return t, nil
}

// ResendConfirmation sends a fresh confirm link for a genuine (possibly
// expired) confirm link whose consent still awaits confirmation, at most once
// per ConfirmResendWindow. Whether anything was sent is not reported.
func (s *Service) ResendConfirmation(ctx context.Context, tok string) error {
	t, err := s.confirmTarget(tok)
	if err != nil && !errors.Is(err, ErrLinkExpired) {
		return err
	}
	ledger, err := s.Store.Ledger(ctx, t.Subscriber)
	if err != nil {
		return fmt.Errorf("read ledger: %w", err)
	}
	st := MarketingStatus(ledger, t.Magnet.ID)
	if st.State != StatePending {
		return nil
	}
	now := s.Now().UTC()
	first, err := s.Store.Claim(ctx, "confirm-resend#"+t.Subscriber+"#"+t.Magnet.ID, now, now.Add(ConfirmResendWindow))
	if err != nil {
		return fmt.Errorf("rate-limit confirm resends: %w", err)
	}
	if !first {
		return nil
	}
	if _, err := s.Store.Claim(ctx, pendingKey(t.Subscriber, t.Magnet.ID), now, now.Add(t.Magnet.ConfirmExpiry())); err != nil {
		return fmt.Errorf("record pending confirmation: %w", err)
	}
	d := freebieData{Magnet: t.Magnet, ConfirmURL: s.ConfirmURL(ctx, t.Subscriber, t.Magnet), PrivacyURL: s.absoluteURL(ctx, t.Magnet.PrivacyPolicyURL)}
	msg, err := render(confirmText, confirmHTML, d)
	if err != nil {
		return err
	}
	msg.Subject = "Please confirm: " + t.Magnet.Frequency + " emails from " + t.Magnet.SenderName
	s.address(&msg, t.Magnet, st.Granted.Email)
	if _, err := s.Mailer.Send(ctx, msg); err != nil {
		return fmt.Errorf("send confirm link: %w", err)
	}
	return nil
}

type receiptData struct {
	freebieData
	Wording     WordingVersion
	GrantedAt   string
	ConfirmedAt string
}

// sendReceipt emails what the person agreed to — the archived wording — when,
// how often, and how to withdraw.
func (s *Service) sendReceipt(ctx context.Context, t ConfirmTarget, email string, confirmedAt time.Time) error {
	unsubscribe := s.UnsubscribeURL(ctx, t.Subscriber, t.Magnet.ID)
	d := receiptData{
		freebieData: freebieData{Magnet: t.Magnet, UnsubscribeURL: unsubscribe, PrivacyURL: s.absoluteURL(ctx, t.Wording.PrivacyPolicyURL)},
		Wording:     t.Wording, GrantedAt: stamp(t.Status.Granted.At), ConfirmedAt: stamp(confirmedAt),
	}
	msg, err := render(receiptText, receiptHTML, d)
	if err != nil {
		return err
	}
	msg.Subject = "Your consent receipt: " + t.Magnet.SenderName
	s.address(&msg, t.Magnet, email)
	msg.Headers = listHeaders(t.Magnet, unsubscribe)
	if _, err := s.Mailer.Send(ctx, msg); err != nil {
		return fmt.Errorf("send consent receipt: %w", err)
	}
	return nil
}

func (s *Service) address(msg *Message, m magnet.Magnet, to string) {
	msg.FromName, msg.FromEmail, msg.ReplyTo, msg.To = m.SenderName, m.SenderEmail, m.ReplyTo, to
}

// render executes a text and an HTML template with the same data.
func render(text *texttemplate.Template, html *htmltemplate.Template, data any) (Message, error) {
	var tb, hb bytes.Buffer
	if err := text.Execute(&tb, data); err != nil {
		return Message{}, fmt.Errorf("render %s: %w", text.Name(), err)
	}
	if err := html.Execute(&hb, data); err != nil {
		return Message{}, fmt.Errorf("render %s: %w", html.Name(), err)
	}
	return Message{Text: tb.String(), HTML: hb.String()}, nil
}
