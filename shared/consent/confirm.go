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
	ledger, lerr := s.Ledger.Events(ctx, t.Subscriber)
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
	v, err := s.Wordings.Wording(ctx, t.Magnet.ID, g.WordingVersion)
	if err != nil {
		return fmt.Errorf("read archived wording: %w", err)
	}
	t.Wording = v
	return nil
}

// Confirm records a `confirmed` event for consent awaiting confirmation and,
// in the same atomic write, queues the consent receipt if the magnet sends
// one — so the receipt goes out once. Confirming twice, or after a scanner
// opened the link, writes nothing more and still succeeds; consent that is
// not pending (never given, withdrawn) is left alone. Expired links give
// ErrLinkExpired and write nothing.
func (s *Service) Confirm(ctx context.Context, tok string, ev Evidence) (ConfirmTarget, error) {
	t, err := s.confirmTarget(tok)
	if err != nil {
		return t, err
	}
	err = s.commitAfterLedger(ctx, t.Subscriber, func(ledger []Event) Write {
		st := MarketingStatus(ledger, t.Magnet.ID)
		if st.State != StatePending {
			return Write{}
		}
		g := st.Granted
		w := Write{Events: []Event{{
			Subscriber: t.Subscriber, Type: EventConfirmed, At: s.Now().UTC(), Magnet: t.Magnet.ID,
			Email: g.Email, Method: MethodConfirmLink, WordingVersion: g.WordingVersion,
			SourceIP: ev.SourceIP, UserAgent: ev.UserAgent, RequestID: ev.RequestID,
		}}}
		if t.Magnet.SendsReceipt() {
			w.Jobs = []Job{s.newJob(ctx, JobReceipt, t.Subscriber, t.Magnet.ID, g.Email, "")}
		}
		return w
	})
	if err != nil {
		return t, fmt.Errorf("record confirmation: %w", err)
	}
	ledger, err := s.Ledger.Events(ctx, t.Subscriber)
	if err != nil {
		return t, fmt.Errorf("read ledger: %w", err)
	}
	if err := s.describe(ctx, &t, ledger); err != nil {
		return t, err
	}
	return t, nil
}

// ResendConfirmation queues a fresh confirm link for a genuine (possibly
// expired) confirm link whose consent still awaits confirmation, at most once
// per ConfirmResendWindow. Whether anything was queued is not reported.
func (s *Service) ResendConfirmation(ctx context.Context, tok string) error {
	t, err := s.confirmTarget(tok)
	if err != nil && !errors.Is(err, ErrLinkExpired) {
		return err
	}
	ledger, err := s.Ledger.Events(ctx, t.Subscriber)
	if err != nil {
		return fmt.Errorf("read ledger: %w", err)
	}
	st := MarketingStatus(ledger, t.Magnet.ID)
	if st.State != StatePending {
		return nil
	}
	now := s.Now().UTC()
	w := Write{
		Jobs: []Job{s.newJob(ctx, JobConfirmLink, t.Subscriber, t.Magnet.ID, st.Granted.Email, "")},
		Claims: []ClaimRecord{
			{Key: "confirm-resend#" + t.Subscriber + "#" + t.Magnet.ID, ExpiresAt: now.Add(ConfirmResendWindow)},
			// The pending confirmation lives on with the new link.
			{Key: pendingKey(t.Subscriber, t.Magnet.ID, st.Granted.ID+"#"+now.Format(time.RFC3339Nano)), ExpiresAt: now.Add(t.Magnet.ConfirmExpiry())},
		},
		Now: now,
	}
	switch err := s.Ledger.Commit(ctx, w); {
	case errors.Is(err, ErrClaimTaken):
		return nil // rate-limited
	case err != nil:
		return fmt.Errorf("queue confirm link: %w", err)
	}
	s.kick(w)
	return nil
}

// confirmLinkMessage is a fresh double opt-in link (service message).
func (s *Service) confirmLinkMessage(ctx context.Context, m magnet.Magnet, subscriber string) (Message, error) {
	d := freebieData{Magnet: m, ConfirmURL: s.ConfirmURL(ctx, subscriber, m), PrivacyURL: s.absoluteURL(ctx, m.PrivacyPolicyURL)}
	msg, err := render(confirmText, confirmHTML, d)
	if err != nil {
		return Message{}, err
	}
	msg.Subject = "Please confirm: " + m.Frequency + " emails from " + m.SenderName
	return msg, nil
}

type receiptData struct {
	freebieData
	Wording     WordingVersion
	GrantedAt   string
	ConfirmedAt string
}

// receiptMessage is the consent receipt: what the person agreed to — the
// archived wording — when, how often, and how to withdraw.
func (s *Service) receiptMessage(ctx context.Context, m magnet.Magnet, subscriber string, st Status, ledger []Event) (Message, error) {
	v, err := s.Wordings.Wording(ctx, m.ID, st.Granted.WordingVersion)
	if err != nil {
		return Message{}, fmt.Errorf("read archived wording: %w", err)
	}
	var confirmedAt time.Time
	for _, e := range ledger {
		if e.Magnet == m.ID && e.Type == EventConfirmed {
			confirmedAt = e.At
		}
	}
	unsubscribe := s.UnsubscribeURL(ctx, subscriber, m.ID)
	d := receiptData{
		freebieData: freebieData{Magnet: m, UnsubscribeURL: unsubscribe, PrivacyURL: s.absoluteURL(ctx, v.PrivacyPolicyURL)},
		Wording:     v, GrantedAt: stamp(st.Granted.At), ConfirmedAt: stamp(confirmedAt),
	}
	msg, err := render(receiptText, receiptHTML, d)
	if err != nil {
		return Message{}, err
	}
	msg.Subject = "Your consent receipt: " + m.SenderName
	msg.Headers = listHeaders(m, unsubscribe)
	return msg, nil
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
