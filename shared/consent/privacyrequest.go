package consent

import (
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"regexp"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/token"
)

// Self-service data requests (the rights of access and erasure): a person
// enters their address and asks for a copy of their data or for it to be
// deleted; we email a signed link that expires; the button behind it
// shows the data or erases it. The link names the subscriber by its opaque
// id only, never the address.

// PurposePrivacy is the token purpose of self-service data-request links.
const PurposePrivacy = "privacy"

// The kinds of self-service request.
const (
	PrivacyExport = "export" // send me a copy of my data
	PrivacyErase  = "erase"  // delete my data
)

// PrivacyLinkWindow: after one link request for an address and kind,
// further requests for the same address and kind send nothing until it
// passes (they still get the same answer).
const PrivacyLinkWindow = 15 * time.Minute

// PrivacyLinkExpiry is how long an emailed data-request link works.
const PrivacyLinkExpiry = 24 * time.Hour

// ErrNothingHeld is returned for a genuine data-request link when nothing
// it was sent for is held any more: the person was erased (by this link or
// otherwise), or erased and signed up afresh since — a link never reaches
// data written after the erasure that ended what it was sent for.
var ErrNothingHeld = errors.New("no data held for this link")

var (
	privacyLinkText = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/privacy_link.txt.tmpl"))
	privacyLinkHTML = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/privacy_link.html.tmpl"))
)

// privacyJobKinds maps a request kind to the delivery job that emails its
// link.
var privacyJobKinds = map[string]JobKind{PrivacyExport: JobPrivacyExportLink, PrivacyErase: JobPrivacyEraseLink}

// RequestPrivacyLink serves a self-service data request: kind is
// PrivacyExport or PrivacyErase. If data is held on the address, it is
// emailed a link (valid for PrivacyLinkExpiry) to a page whose button
// shows the data or erases it. The outcome is invisible to the caller — known, unknown,
// suppressed, capped and repeated requests all return nil and write the
// same rate-limit record — so the answer cannot tell anyone whether we hold
// data on someone, and an address no one signed up is never emailed. At
// most one link per address and kind is sent per PrivacyLinkWindow, within
// the address's email cap. An invalid address or kind is a
// *ValidationError; a source over its limit a *RateLimitError (counted per
// source, like sign-ups and withdrawal-link requests).
func (s *Service) RequestPrivacyLink(ctx context.Context, address, kind string, ev Evidence) error {
	fields := map[string]string{}
	email, err := NormaliseAddress(address)
	if err != nil {
		fields["email"] = "Enter a valid email address, like name@example.com."
	}
	jobKind, ok := privacyJobKinds[kind]
	if !ok {
		fields["request"] = "Choose what you want: a copy of your data, or to delete it."
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
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
	w := Write{Claims: []ClaimRecord{{Key: "privacy-link#" + kind + "#" + subscriber, ExpiresAt: now.Add(PrivacyLinkWindow)}}, Now: now}
	sender, ok := s.privacySender(ledger)
	if suppressed, _ := Suppressed(ledger); len(ledger) > 0 && !suppressed && ok {
		slot, free, err := s.mailSlot(ctx, subscriber)
		if err != nil {
			return fmt.Errorf("queue data-request link: %w", err)
		}
		if free {
			w.Jobs = []Job{s.newJob(ctx, jobKind, subscriber, sender.ID, email, "")}
			w.Claims = append(w.Claims, slot...)
		}
	}
	switch err := s.Ledger.Commit(ctx, w); {
	case errors.Is(err, ErrClaimTaken):
		return nil // asked already within the window: same answer, nothing sent
	case err != nil:
		return fmt.Errorf("queue data-request link: %w", err)
	}
	s.kick(w)
	return nil
}

// privacySender is the magnet whose sender emails a person's data-request
// link: that of their latest event naming a magnet still configured (the
// business they last dealt with), else the first configured magnet.
func (s *Service) privacySender(ledger []Event) (magnet.Magnet, bool) {
	for i := len(ledger) - 1; i >= 0; i-- {
		if m, ok := s.Catalog.Get(ledger[i].Magnet); ok && ledger[i].Magnet != "" {
			return m, true
		}
	}
	if all := s.Catalog.All(); len(all) > 0 {
		return all[0], true
	}
	return magnet.Magnet{}, false
}

// privacyLinkURL is the signed link of a data request of kind for the
// person whose ledger this is, working until expires. Its scope binds it
// to this ledger (a hash of its first event's id), so once the ledger is
// erased the link finds nothing held, even after a fresh sign-up under the
// same address.
func (s *Service) privacyLinkURL(ctx context.Context, subscriber, kind string, ledger []Event, expires time.Time) string {
	tok := s.Keys.Signing.Sign(token.Claims{
		Purpose: PurposePrivacy, Subject: subscriber, Scope: kind + "/" + ledgerGeneration(ledger), Expires: expires,
	})
	return s.baseURL(ctx) + "/privacy/confirm?t=" + url.QueryEscape(tok)
}

// ledgerGeneration names one ledger's life from its first event to its
// erasure: a short hash of the first event's id ("" for an empty ledger).
func ledgerGeneration(ledger []Event) string {
	if len(ledger) == 0 {
		return ""
	}
	return digest(PurposePrivacy, ledger[0].ID)[:16]
}

// PrivacyLink is what a data-request link concerns.
type PrivacyLink struct {
	// Kind is PrivacyExport or PrivacyErase.
	Kind string
	// Held reports whether the data the link was sent for is still held;
	// without it the link's button has nothing to act on.
	Held bool
	// MaskedEmail is the address the link was sent to, masked
	// ("a•••@e•••.com"); empty when nothing is held.
	MaskedEmail string
	// Expires is when the link stops working.
	Expires time.Time
}

type privacyTarget struct {
	PrivacyLink
	subscriber, generation string
}

// DescribePrivacyLink reads what a data-request link concerns without
// changing anything (mail scanners open every link). A bad link gives
// ErrBadToken; an expired one ErrLinkExpired with Kind and Expires set.
func (s *Service) DescribePrivacyLink(ctx context.Context, tok string) (PrivacyLink, error) {
	t, ledger, err := s.privacyLedger(ctx, tok)
	if err != nil {
		return t.PrivacyLink, err
	}
	if t.Held = heldFor(ledger, t); t.Held {
		t.MaskedEmail = MaskAddress(lastEmail(ledger))
	}
	return t.PrivacyLink, nil
}

// ExportByLink gives everything held on the person an export link was sent
// to (see Export). A bad link, or an erase link, gives ErrBadToken; an
// expired one ErrLinkExpired; a link whose data is no longer held
// ErrNothingHeld. It writes nothing.
func (s *Service) ExportByLink(ctx context.Context, tok string) (Export, error) {
	email, err := s.privacyAddress(ctx, tok, PrivacyExport)
	if err != nil {
		return Export{}, err
	}
	return s.Export(ctx, email)
}

// EraseByLink erases the person an erase link was sent to (see Erase),
// with the reason "self-service request <date> by emailed link" and the
// request id from ev. A bad link, or an export link, gives ErrBadToken; an
// expired one ErrLinkExpired; a link whose data is no longer held (already
// erased) ErrNothingHeld. Erasure deletes the person's delivery jobs too,
// so nothing more is emailed to them.
func (s *Service) EraseByLink(ctx context.Context, tok string, ev Evidence) (Erasure, error) {
	if s.Erasure == nil {
		return Erasure{}, errors.New("erase by link: the service has no Erasure store")
	}
	email, err := s.privacyAddress(ctx, tok, PrivacyErase)
	if err != nil {
		return Erasure{}, err
	}
	reason := "self-service request " + s.Now().UTC().Format("2006-01-02") + " by emailed link"
	if safeRequestID.MatchString(ev.RequestID) {
		reason += " (request " + ev.RequestID + ")"
	}
	return s.Erase(ctx, email, reason)
}

// safeRequestID is a request id fit to record in an erasure's reason.
var safeRequestID = regexp.MustCompile(`^[A-Za-z0-9+/=_.-]{1,64}$`)

// privacyAddress verifies a data-request link of kind and returns the
// canonical address of the person it was sent to, read from their ledger
// (the link holds only the subscriber id).
func (s *Service) privacyAddress(ctx context.Context, tok, kind string) (string, error) {
	t, ledger, err := s.privacyLedger(ctx, tok)
	if err != nil {
		return "", err
	}
	if t.Kind != kind {
		return "", ErrBadToken
	}
	if !heldFor(ledger, t) {
		return "", ErrNothingHeld
	}
	email := lastEmail(ledger)
	if email == "" || s.Keys.Subject.SubscriberID(email) != t.subscriber {
		// A ledger whose recorded address is not the one its id was made
		// from: nothing here can be acted on safely.
		return "", fmt.Errorf("data request: ledger address does not match its subscriber id: %w", ErrNothingHeld)
	}
	return email, nil
}

// privacyLedger verifies tok and reads the ledger of its subscriber. An
// expired link is ErrLinkExpired, and its ledger is not read.
func (s *Service) privacyLedger(ctx context.Context, tok string) (privacyTarget, []Event, error) {
	c, err := s.Keys.Signing.Verify(PurposePrivacy, tok, s.Now())
	if err != nil && !errors.Is(err, token.ErrExpired) {
		return privacyTarget{}, nil, ErrBadToken
	}
	kind, generation, _ := strings.Cut(c.Scope, "/")
	if _, known := privacyJobKinds[kind]; !known || generation == "" || c.Subject == "" {
		return privacyTarget{}, nil, ErrBadToken
	}
	t := privacyTarget{PrivacyLink: PrivacyLink{Kind: kind, Expires: c.Expires}, subscriber: c.Subject, generation: generation}
	if err != nil {
		return t, nil, ErrLinkExpired
	}
	ledger, err := s.Ledger.Events(ctx, t.subscriber)
	if err != nil {
		return t, nil, fmt.Errorf("read ledger: %w", err)
	}
	return t, ledger, nil
}

// heldFor reports whether ledger is the one the link was sent for.
func heldFor(ledger []Event, t privacyTarget) bool {
	return len(ledger) > 0 && ledgerGeneration(ledger) == t.generation
}

// privacyLinkData fills the data-request link email.
type privacyLinkData struct {
	Magnet     magnet.Magnet
	Erase      bool
	URL        string
	Expires    string // "3 December 2026, 14:05 UTC"
	PrivacyURL string
}

// privacyLinkMessage is a service message the person asked for: the link
// to their data request's page (which changes nothing until its button is
// pressed), so a stranger who typed someone's address can neither read nor
// erase their data.
func (s *Service) privacyLinkMessage(ctx context.Context, m magnet.Magnet, job Job, ledger []Event) (Message, error) {
	kind := PrivacyExport
	if job.Kind == JobPrivacyEraseLink {
		kind = PrivacyErase
	}
	expires := s.Now().Add(PrivacyLinkExpiry)
	d := privacyLinkData{
		Magnet: m, Erase: kind == PrivacyErase,
		URL:        s.privacyLinkURL(ctx, job.Subscriber, kind, ledger, expires),
		Expires:    ReadableTime(expires),
		PrivacyURL: s.absoluteURL(ctx, m.PrivacyPolicyURL),
	}
	msg, err := render(privacyLinkText, privacyLinkHTML, d)
	if err != nil {
		return Message{}, err
	}
	msg.Subject = "Your link to see the data " + m.SenderName + " holds on you"
	if d.Erase {
		msg.Subject = "Your link to delete the data " + m.SenderName + " holds on you"
	}
	return msg, nil
}

// ReadableTime says t for people, in UTC: "2 December 2026, 14:05 UTC".
func ReadableTime(t time.Time) string {
	return t.UTC().Format("2 January 2006, 15:04 UTC")
}
