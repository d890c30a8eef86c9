package consent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"slices"
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
	// PurposeName says, for people, what the grant the link concerns is
	// for ("marketing email from Acme Ltd", "offers from Books R Us Ltd").
	PurposeName string
	// Also are the other grants of the same sign-up — boxes for other
	// purposes ticked beside the link's — that confirming the link confirms
	// too, while they await confirmation or stand confirmed.
	Also []PurposeWording
}

// PurposeWording is one purpose a person agreed to and the archived
// wording they were shown for it.
type PurposeWording struct {
	Purpose string
	Name    string
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

// describe fills in the masked address, status, purpose and the archived
// wording of the consent the link concerns, and the other grants of its
// sign-up that it confirms too.
func (s *Service) describe(ctx context.Context, t *ConfirmTarget, ledger []Event) error {
	purpose := linkPurpose(ledger, *t)
	t.Status = grantStatus(MarketingStatus(ledger, purpose), t.Grant)
	t.PurposeName = s.purposeName(purpose)
	if email := lastEmail(ledger); email != "" {
		t.MaskedEmail = MaskAddress(email)
	}
	g := t.Status.Granted
	if g.WordingVersion == "" {
		return nil
	}
	v, err := s.grantWording(ctx, g, t.Magnet.ID)
	if err != nil {
		return err
	}
	t.Wording = v
	if t.Grant != "" && g.ID != t.Grant {
		return nil
	}
	for _, sib := range signupGrants(ledger, g) {
		if sib.ID == g.ID || sib.WordingVersion == "" {
			continue
		}
		st := MarketingStatus(ledger, EventPurpose(ledger, sib))
		if a, awaiting := st.AwaitingConfirmation(); !(awaiting && a.ID == sib.ID) && !(st.State == StateActive && st.Granted.ID == sib.ID) {
			continue
		}
		v, err := s.grantWording(ctx, sib, t.Magnet.ID)
		if err != nil {
			return err
		}
		p := EventPurpose(ledger, sib)
		t.Also = append(t.Also, PurposeWording{Purpose: p, Name: s.purposeName(p), Wording: v})
	}
	return nil
}

// grantWording reads the archived wording grant g was given under, from
// the archive of the magnet it was given on (fallback if g names none).
func (s *Service) grantWording(ctx context.Context, g Event, fallback string) (WordingVersion, error) {
	magnetID := g.Magnet
	if magnetID == "" {
		magnetID = fallback
	}
	v, err := s.Wordings.Wording(ctx, magnetID, g.WordingVersion)
	if err != nil {
		return v, fmt.Errorf("read archived wording: %w", err)
	}
	return v, nil
}

// purposeName says purpose for people, as the catalog names it (see
// magnet.PurposeInfo); a purpose no longer configured by its id.
func (s *Service) purposeName(purpose string) string {
	if p, ok := s.Catalog.Purpose(purpose); ok {
		return p.Name
	}
	return purpose
}

// linkPurpose is the purpose a confirm link concerns: that of the grant it
// names, or — for links made before links named their grant, or naming a
// grant no longer in the ledger — the main purpose of its magnet.
func linkPurpose(ledger []Event, t ConfirmTarget) string {
	if t.Grant != "" {
		for _, e := range ledger {
			if e.Type == EventGranted && e.ID == t.Grant {
				return EventPurpose(ledger, e)
			}
		}
	}
	return t.Magnet.PurposeID()
}

// signupGrants returns the `granted` events written by the same sign-up as
// grant g, g included, oldest first: the run of consecutive grants around
// g in the ledger with g's magnet, time and request id (one sign-up writes
// its events together, after its `signup` event).
func signupGrants(ledger []Event, g Event) []Event {
	at := slices.IndexFunc(ledger, func(e Event) bool { return e.ID == g.ID })
	if at < 0 {
		return []Event{g}
	}
	same := func(e Event) bool {
		return e.Type == EventGranted && e.Magnet == g.Magnet && e.At.Equal(g.At) && e.RequestID == g.RequestID
	}
	first, last := at, at
	for first > 0 && same(ledger[first-1]) {
		first--
	}
	for last+1 < len(ledger) && same(ledger[last+1]) {
		last++
	}
	return slices.Clone(ledger[first : last+1])
}

// awaitingNow reports whether grant g is the grant awaiting confirmation
// for its purpose now.
func awaitingNow(ledger []Event, g Event) bool {
	a, ok := MarketingStatus(ledger, EventPurpose(ledger, g)).AwaitingConfirmation()
	return ok && a.ID == g.ID
}

// pendingConfirmation returns the grants a confirm link emailed for
// magnet m now confirms, the grant it names first: of the grants awaiting
// confirmation for m's purposes (its main one and its extra ones), the
// newest, with the other grants of its sign-up that await confirmation too;
// the first of them is the one the link names. ok is false when nothing
// awaits confirmation.
func pendingConfirmation(ledger []Event, m magnet.Magnet) (grants []Event, ok bool) {
	var newest Event
	for _, p := range m.PurposeIDs() {
		if g, awaiting := MarketingStatus(ledger, p).AwaitingConfirmation(); awaiting && (!ok || g.Seq > newest.Seq) {
			newest, ok = g, true
		}
	}
	if !ok {
		return nil, false
	}
	for _, g := range signupGrants(ledger, newest) {
		if g.ID == newest.ID || awaitingNow(ledger, g) {
			grants = append(grants, g)
		}
	}
	return grants, true
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
// event naming the grant — and one for each other grant of the same sign-up
// that awaits confirmation (boxes for other purposes ticked beside it) —
// and, if the magnet sends receipts and receipt is true and the email cap
// allows, one receipt job (otherwise the first event is marked
// DeliveryLimited).
func (s *Service) confirmWrite(ctx context.Context, t ConfirmTarget, ev Evidence, receipt bool) func([]Event) (Write, error) {
	return func(ledger []Event) (Write, error) {
		st := grantStatus(MarketingStatus(ledger, linkPurpose(ledger, t)), t.Grant)
		if st.State != StatePending {
			return Write{}, nil
		}
		g := st.Granted
		confirm := []Event{g}
		for _, sib := range signupGrants(ledger, g) {
			if sib.ID != g.ID && awaitingNow(ledger, sib) {
				confirm = append(confirm, sib)
			}
		}
		now := s.Now().UTC()
		var w Write
		for _, c := range confirm {
			w.Events = append(w.Events, Event{
				Subscriber: t.Subscriber, Type: EventConfirmed, At: now, Magnet: t.Magnet.ID,
				Email: c.Email, Method: MethodConfirmLink, WordingVersion: c.WordingVersion, Confirms: c.ID, Purpose: EventPurpose(ledger, c),
				SourceIP: ev.SourceIP, UserAgent: ev.UserAgent, RequestID: ev.RequestID,
			})
		}
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
	st := grantStatus(MarketingStatus(ledger, linkPurpose(ledger, t)), t.Grant)
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

type confirmLinkData struct {
	freebieData
	// ConfirmFor says what the link confirms: "our monthly emails",
	// "offers from Books R Us Ltd", or several of these joined.
	ConfirmFor string
	// OnlyMain: the link confirms the magnet's main purpose alone.
	OnlyMain bool
}

// confirmLinkMessage is a fresh double opt-in link (service message) for
// grants, the grants of one sign-up awaiting confirmation (see
// pendingConfirmation): the link names the first and confirms them all. It
// greets the person by name, if one is held ("" for none).
func (s *Service) confirmLinkMessage(ctx context.Context, m magnet.Magnet, name, subscriber string, grants []Event, ledger []Event) (Message, error) {
	d := confirmLinkData{
		freebieData: freebieData{Magnet: m, Name: name, ConfirmURL: s.ConfirmURL(ctx, subscriber, m, grants[0].ID), PrivacyURL: s.absoluteURL(ctx, m.PrivacyPolicyURL)},
		ConfirmFor:  s.grantsInWords(m, grants, ledger),
		OnlyMain:    len(grants) == 1 && EventPurpose(ledger, grants[0]) == m.PurposeID(),
	}
	msg, err := render(confirmText, confirmHTML, d)
	if err != nil {
		return Message{}, err
	}
	msg.Subject = "Please confirm: " + m.Frequency + " emails from " + m.SenderName
	if EventPurpose(ledger, grants[0]) != m.PurposeID() {
		msg.Subject = "Please confirm: " + d.ConfirmFor
	}
	return msg, nil
}

// grantsInWords says what grants are for, for people: "our monthly
// emails" for m's main purpose, each other purpose by its name, joined
// ("our monthly emails and offers from Books R Us Ltd").
func (s *Service) grantsInWords(m magnet.Magnet, grants []Event, ledger []Event) string {
	var names []string
	for _, g := range grants {
		p := EventPurpose(ledger, g)
		name := s.purposeName(p)
		if p == m.PurposeID() {
			name = "our " + m.Frequency + " emails"
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	switch len(names) {
	case 0:
		return "our " + m.Frequency + " emails"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

type receiptData struct {
	freebieData
	Wording WordingVersion
	// GrantedAt and ConfirmedAt say when, for people (ReadableTime);
	// ConfirmedAt is "" if no confirmation is on record.
	GrantedAt   string
	ConfirmedAt string
	// Also are the other purposes confirmed with the first, by the same
	// click, each with the wording agreed to.
	Also []PurposeWording
}

// receiptGrants returns the grants a receipt for magnet m is for: those
// confirmed by the latest confirmation on m's links — the link's grant and
// the other grants of its sign-up confirmed with it — whose consent still
// stands, the link's first. With none left, reason says why.
func receiptGrants(ledger []Event, m magnet.Magnet) (grants []Event, reason string) {
	at := -1
	for i, e := range ledger {
		if e.Type == EventConfirmed && e.Magnet == m.ID {
			at = i
		}
	}
	if at < 0 {
		// No confirmation recorded on this magnet's links: the consent
		// for its purpose, as it stands.
		st := MarketingStatus(ledger, m.PurposeID())
		if !st.Eligible() {
			return nil, st.Reason
		}
		return []Event{st.Granted}, ""
	}
	c := ledger[at]
	same := func(e Event) bool {
		return e.Type == EventConfirmed && e.Magnet == c.Magnet && e.At.Equal(c.At) && e.RequestID == c.RequestID
	}
	first := at
	for first > 0 && same(ledger[first-1]) {
		first--
	}
	var purposes []string
	for i := first; i < len(ledger) && same(ledger[i]); i++ {
		if p := EventPurpose(ledger, ledger[i]); !slices.Contains(purposes, p) {
			purposes = append(purposes, p)
		}
	}
	for _, p := range purposes {
		st := MarketingStatus(ledger, p)
		if !st.Eligible() {
			if reason == "" {
				reason = st.Reason
			}
			continue
		}
		grants = append(grants, st.Granted)
	}
	if len(grants) > 0 {
		reason = ""
	}
	return grants, reason
}

// receiptMessage is the consent receipt for grants (see receiptGrants):
// what the person agreed to — the archived wording of each — when, how
// often, and how to withdraw, greeting them by name if one is held. It
// carries the one-click list headers only while consent for m's main
// purpose stands, the purpose they withdraw; its visible link leads to the
// page that stops every purpose.
func (s *Service) receiptMessage(ctx context.Context, m magnet.Magnet, name, subscriber string, grants []Event, ledger []Event) (Message, error) {
	g := grants[0]
	v, err := s.grantWording(ctx, g, m.ID)
	if err != nil {
		return Message{}, err
	}
	var confirmedAt time.Time
	for _, e := range ledger {
		if e.Type == EventConfirmed && (e.Confirms == g.ID || e.Confirms == "" && e.Magnet == g.Magnet) {
			confirmedAt = e.At
		}
	}
	unsubscribe := s.UnsubscribeURL(ctx, subscriber, m.ID)
	d := receiptData{
		freebieData: freebieData{Magnet: m, Name: name, UnsubscribeURL: unsubscribe, PrivacyURL: s.absoluteURL(ctx, v.PrivacyPolicyURL)},
		Wording:     v, GrantedAt: ReadableTime(g.At),
	}
	if !confirmedAt.IsZero() {
		d.ConfirmedAt = ReadableTime(confirmedAt)
	}
	for _, other := range grants[1:] {
		ov, err := s.grantWording(ctx, other, m.ID)
		if err != nil {
			return Message{}, err
		}
		p := EventPurpose(ledger, other)
		d.Also = append(d.Also, PurposeWording{Purpose: p, Name: s.purposeName(p), Wording: ov})
	}
	msg, err := render(receiptText, receiptHTML, d)
	if err != nil {
		return Message{}, err
	}
	msg.Subject = "Your consent receipt: " + m.SenderName
	if MarketingStatus(ledger, m.PurposeID()).Consented() {
		msg.Headers = listHeaders(m, unsubscribe)
	}
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
