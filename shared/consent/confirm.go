package consent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
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
	Subscriber string
	Magnet     magnet.Magnet
	// Grant is the id of the `granted` event the link was sent for; empty
	// for links made before links named their grant (they confirm whatever
	// awaits confirmation).
	Grant       string
	MaskedEmail string
	// Status is the consent state of the grant the link concerns, now
	// (after Confirm: after confirming). While that grant awaits
	// confirmation it is StatePending with Granted set to it, even if older
	// consent is active beside it.
	Status Status
	// Wording is the archived wording the person agreed to.
	Wording WordingVersion
}

// ConfirmURL is a signed link that confirms grant grantID (a `granted`
// event id) and nothing else; it expires after the magnet's confirm expiry.
func (s *Service) ConfirmURL(ctx context.Context, subscriber string, m magnet.Magnet, grantID string) string {
	tok := s.Keys.Signing.Sign(token.Claims{Purpose: PurposeConfirm, Subject: subscriber, Scope: m.ID + "/" + grantID, Expires: s.Now().Add(m.ConfirmExpiry())})
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
	magnetID, grant, _ := strings.Cut(c.Scope, "/")
	m, ok := s.Catalog.Get(magnetID)
	if !ok {
		return ConfirmTarget{}, ErrUnknownMagnet
	}
	t := ConfirmTarget{Subscriber: c.Subject, Magnet: m, Grant: grant}
	if err != nil {
		return t, ErrLinkExpired
	}
	return t, nil
}

// describe fills in the masked address, status and the archived wording of
// the consent the link concerns.
func (s *Service) describe(ctx context.Context, t *ConfirmTarget, ledger []Event) error {
	t.Status = grantStatus(MarketingStatus(ledger, t.Magnet.PurposeID()), t.Grant)
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

// grantStatus is st as seen by a link for grant (empty: any grant): the
// grant the link names awaits confirmation only if it is the one awaiting
// now — not one replaced by a newer grant, nor one withdrawn since.
func grantStatus(st Status, grant string) Status {
	g, awaiting := st.AwaitingConfirmation()
	switch {
	case awaiting && (grant == "" || grant == g.ID):
		return Status{State: StatePending, Since: g.At, Granted: g, Reason: "awaiting confirmation since " + stamp(g.At)}
	case st.State == StatePending:
		// The link's grant was replaced by a newer one awaiting confirmation.
		return Status{State: StateNone, Reason: "replaced by a newer request on " + stamp(g.At)}
	}
	st.Awaiting = Event{}
	return st
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
	err = s.commitAfterLedger(ctx, t.Subscriber, signupRetry, s.confirmWrite(ctx, t, ev, true))
	if errors.Is(err, ErrClaimTaken) {
		// A concurrent email took the cap slot chosen for the receipt:
		// confirm without it rather than fail the person's click.
		err = s.commitAfterLedger(ctx, t.Subscriber, signupRetry, s.confirmWrite(ctx, t, ev, false))
	}
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

// confirmWrite decides what confirming t writes given the ledger now:
// nothing unless the link's grant awaits confirmation, else a `confirmed`
// event naming the grant and, if the magnet sends receipts and receipt is
// true and the email cap allows, the receipt job (otherwise the event is
// marked DeliveryLimited).
func (s *Service) confirmWrite(ctx context.Context, t ConfirmTarget, ev Evidence, receipt bool) func([]Event) (Write, error) {
	return func(ledger []Event) (Write, error) {
		st := grantStatus(MarketingStatus(ledger, t.Magnet.PurposeID()), t.Grant)
		if st.State != StatePending {
			return Write{}, nil
		}
		g := st.Granted
		w := Write{Events: []Event{{
			Subscriber: t.Subscriber, Type: EventConfirmed, At: s.Now().UTC(), Magnet: t.Magnet.ID,
			Email: g.Email, Method: MethodConfirmLink, WordingVersion: g.WordingVersion, Confirms: g.ID, Purpose: EventPurpose(ledger, g),
			SourceIP: ev.SourceIP, UserAgent: ev.UserAgent, RequestID: ev.RequestID,
		}}}
		if !t.Magnet.SendsReceipt() {
			return w, nil
		}
		slot, ok := []ClaimRecord(nil), false
		if receipt {
			var err error
			if slot, ok, err = s.mailSlot(ctx, t.Subscriber); err != nil {
				return Write{}, err
			}
		}
		if !ok {
			w.Events[0].Delivery = DeliveryLimited
			return w, nil
		}
		w.Claims = slot
		w.Jobs = []Job{s.newJob(ctx, JobReceipt, t.Subscriber, t.Magnet.ID, g.Email, "")}
		return w, nil
	}
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
	st := grantStatus(MarketingStatus(ledger, t.Magnet.PurposeID()), t.Grant)
	if st.State != StatePending {
		return nil
	}
	slot, ok, err := s.mailSlot(ctx, t.Subscriber)
	if err != nil || !ok {
		return err // past the email cap: same answer, nothing sent
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
	w.Claims = append(w.Claims, slot...)
	switch err := s.Ledger.Commit(ctx, w); {
	case errors.Is(err, ErrClaimTaken):
		return nil // rate-limited (or a concurrent email took the slot)
	case err != nil:
		return fmt.Errorf("queue confirm link: %w", err)
	}
	s.kick(w)
	return nil
}

// confirmLinkMessage is a fresh double opt-in link for grant grantID
// (service message).
func (s *Service) confirmLinkMessage(ctx context.Context, m magnet.Magnet, subscriber, grantID string) (Message, error) {
	d := freebieData{Magnet: m, ConfirmURL: s.ConfirmURL(ctx, subscriber, m, grantID), PrivacyURL: s.absoluteURL(ctx, m.PrivacyPolicyURL)}
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
		if e.Type == EventConfirmed && (e.Confirms == st.Granted.ID || e.Confirms == "" && e.Magnet == st.Granted.Magnet) {
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
