package consent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/token"
)

// MaxNameLength caps the optional name, in characters.
const MaxNameLength = 100

// maxAppendAttempts bounds retries when concurrent writers race for a
// ledger position.
const maxAppendAttempts = 8

// PurposeUnsubscribe is the token purpose of unsubscribe links.
const PurposeUnsubscribe = "unsubscribe"

var (
	// ErrBadToken is the one error for any link token that does not verify.
	ErrBadToken = errors.New("invalid link")
	// ErrUnknownMagnet is returned when a token names a magnet no longer configured.
	ErrUnknownMagnet = errors.New("unknown magnet")
)

// ValidationError lists what is wrong with a request, one message per field.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for f, m := range e.Fields {
		parts = append(parts, f+": "+m)
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// Evidence is how a request reached us, taken from the server side of the
// connection (API Gateway request context or the socket), never from
// client-supplied headers such as X-Forwarded-For.
type Evidence struct {
	SourceIP  string
	UserAgent string
	RequestID string
}

// SignupRequest is a visitor's form submission.
type SignupRequest struct {
	Email   string
	Magnet  string
	Name    string
	Consent bool   // true only if the unticked checkbox was ticked
	Method  string // MethodForm or MethodJSON
	// WordingVersion is the consent wording version the form was rendered
	// with; empty means the magnet's current version.
	WordingVersion string
	// IdempotencyKey is the client's Idempotency-Key header, if any.
	IdempotencyKey string
	Evidence
}

// Service runs the use cases. All fields are required.
type Service struct {
	Catalog *magnet.Catalog
	Store   Store
	Keys    token.Keys
	// BaseURL is the public URL the API is reached at, without a trailing
	// slash; emailed links start with it.
	BaseURL string
	Now     func() time.Time
	// Kick, if set, is called after a write that queued delivery jobs (the
	// local dispatcher uses it to deliver at once; on AWS the table's stream
	// does this).
	Kick func()

	archived sync.Map // "magnet\nversion" archived by this Service
}

// Signup records a sign-up and delivers the freebie. The freebie goes out
// whether or not consent was given; only a ticked box records a `granted`
// event and makes the email carry unsubscribe links and headers. Invalid
// input returns *ValidationError and nothing is stored or sent.
func (s *Service) Signup(ctx context.Context, req SignupRequest) error {
	m, email, name, err := s.validate(req)
	if err != nil {
		return err
	}
	version, err := s.wordingFor(ctx, m, strings.TrimSpace(req.WordingVersion), req.Consent)
	if err != nil {
		return err
	}
	subscriber := s.Keys.Subject.SubscriberID(email)
	now := s.Now().UTC()
	base := Event{
		Subscriber: subscriber, At: now, Magnet: m.ID, Email: email,
		SourceIP: req.SourceIP, UserAgent: req.UserAgent, RequestID: req.RequestID,
	}
	signup := base
	signup.Type, signup.Method, signup.Name = EventSignup, req.Method, name
	signup.ID = NewEventID(now)
	events := []Event{signup}
	if req.Consent {
		granted := base
		granted.Type, granted.Method = EventGranted, MethodCheckbox
		granted.WordingVersion, granted.Wording, granted.PrivacyPolicyURL = version.ID, version.Wording, version.PrivacyPolicyURL
		granted.Frequency, granted.Controller = version.Frequency, version.Controller
		granted.ConfirmationRequired = m.RequiresConfirmation()
		granted.ID = NewEventID(now)
		events = append(events, granted)
	}
	job := s.newJob(ctx, JobFreebie, subscriber, m.ID, email, name)
	var key, fingerprint string
	err = s.commitAfterLedger(ctx, subscriber, func(ledger []Event) Write {
		var ttl time.Duration
		key, fingerprint, ttl = s.idempotency(req, ledger, subscriber, email, name, version.ID)
		w := Write{Events: events, Jobs: []Job{job}, Claims: []ClaimRecord{{Key: key, Value: fingerprint, ExpiresAt: now.Add(ttl)}}}
		if req.Consent && m.RequiresConfirmation() {
			// The pending confirmation expires with its link; TTL removes
			// it, while the signup and granted events stay as history.
			w.Claims = append(w.Claims, ClaimRecord{Key: pendingKey(subscriber, m.ID, events[1].ID), ExpiresAt: now.Add(m.ConfirmExpiry())})
		}
		return w
	})
	if errors.Is(err, ErrClaimTaken) {
		return s.repeatedSignup(ctx, req, key, fingerprint)
	}
	if err != nil {
		return fmt.Errorf("record sign-up: %w", err)
	}
	return nil
}

// pendingKey names the pending-confirmation record of one grant; each grant
// has its own, so it never collides with an earlier one.
func pendingKey(subscriber, magnetID, grantID string) string {
	return "pending-confirmation#" + subscriber + "#" + magnetID + "#" + grantID
}

// wordingFor returns the archived wording version a sign-up records: the
// form's version if it names an older one (it must be archived for this
// magnet — anything else is a ValidationError), else the magnet's current
// version, archived the first time this Service uses it. The text recorded
// is always the text the server holds, never text sent by the client. A
// sign-up without consent or version needs none.
func (s *Service) wordingFor(ctx context.Context, m magnet.Magnet, id string, consent bool) (WordingVersion, error) {
	current := NewWordingVersion(m)
	if id != "" && id != current.ID {
		v, err := s.Store.Wording(ctx, m.ID, id)
		if errors.Is(err, ErrNotFound) {
			return v, &ValidationError{Fields: map[string]string{"consent_version": "This form is out of date. Reload the page and send it again."}}
		}
		if err != nil {
			return v, fmt.Errorf("look up wording version: %w", err)
		}
		return v, nil
	}
	if id == "" && !consent {
		return WordingVersion{}, nil
	}
	return current, s.archiveOnce(ctx, m.ID, current)
}

// archiveOnce archives v for magnetID unless this Service already did, so
// only the first sign-up per version and instance pays for the write.
func (s *Service) archiveOnce(ctx context.Context, magnetID string, v WordingVersion) error {
	key := magnetID + "\n" + v.ID
	if _, done := s.archived.Load(key); done {
		return nil
	}
	if err := s.Store.ArchiveWording(ctx, magnetID, v, s.Now().UTC()); err != nil {
		return fmt.Errorf("archive wording of magnet %s: %w", magnetID, err)
	}
	s.archived.Store(key, true)
	return nil
}

// ArchiveCurrentWordings archives every configured magnet's current wording
// version now rather than at its first sign-up, so a form rendered from this
// configuration can name its version at once (the local server calls it at
// start). Old versions are never removed.
func (s *Service) ArchiveCurrentWordings(ctx context.Context) error {
	for _, m := range s.Catalog.All() {
		if err := s.archiveOnce(ctx, m.ID, NewWordingVersion(m)); err != nil {
			return err
		}
	}
	return nil
}

// commitAfterLedger commits the Write next(ledger) returns, its events at
// the end of the subscriber's ledger, re-reading and retrying when another
// writer took the position first. A Write with nothing in it is skipped. A
// taken claim is returned at once (wrapping ErrClaimTaken): retrying cannot
// help. Jobs written are announced through Kick.
func (s *Service) commitAfterLedger(ctx context.Context, subscriber string, next func([]Event) Write) error {
	for range maxAppendAttempts {
		ledger, err := s.Store.Ledger(ctx, subscriber)
		if err != nil {
			return err
		}
		w := next(ledger)
		if len(w.Events) == 0 && len(w.Jobs) == 0 && len(w.Claims) == 0 {
			return nil
		}
		w.Now = s.Now().UTC()
		seq := NextSeq(ledger)
		for i := range w.Events {
			w.Events[i].Seq = seq + i
			if w.Events[i].ID == "" {
				w.Events[i].ID = NewEventID(w.Events[i].At)
			}
		}
		err = s.Store.Commit(ctx, w)
		if err == nil {
			s.kick(w)
			return nil
		}
		if !errors.Is(err, ErrConflict) || errors.Is(err, ErrClaimTaken) || len(w.Events) == 0 {
			return err
		}
		// A write that succeeded but whose reply was lost is retried by the
		// SDK and then reports a conflict with itself: re-read, and if our
		// first event is there, it was written.
		if written, rerr := s.ledgerHas(ctx, subscriber, w.Events[0].ID); rerr == nil && written {
			s.kick(w)
			return nil
		}
	}
	return fmt.Errorf("gave up after %d attempts: %w", maxAppendAttempts, ErrConflict)
}

func (s *Service) kick(w Write) {
	if len(w.Jobs) > 0 && s.Kick != nil {
		s.Kick()
	}
}

func (s *Service) ledgerHas(ctx context.Context, subscriber, eventID string) (bool, error) {
	ledger, err := s.Store.Ledger(ctx, subscriber)
	if err != nil {
		return false, err
	}
	for _, e := range ledger {
		if e.ID == eventID {
			return true, nil
		}
	}
	return false, nil
}

func (s *Service) validate(req SignupRequest) (magnet.Magnet, string, string, error) {
	fields := map[string]string{}
	var m magnet.Magnet
	switch id := strings.TrimSpace(req.Magnet); {
	case id == "":
		fields["magnet"] = "Choose which download you want."
	default:
		var ok bool
		if m, ok = s.Catalog.Get(id); !ok {
			fields["magnet"] = "This download does not exist."
		}
	}
	email, err := NormaliseAddress(req.Email)
	switch {
	case strings.TrimSpace(req.Email) == "":
		fields["email"] = "Enter your email address."
	case err != nil:
		fields["email"] = "Enter a valid email address, like name@example.com."
	}
	name := strings.TrimSpace(req.Name)
	switch {
	case !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
		fields["name"] = "Your name can only contain letters, spaces and punctuation."
	case utf8.RuneCountInString(name) > MaxNameLength:
		fields["name"] = fmt.Sprintf("Your name can be at most %d characters.", MaxNameLength)
	}
	if len(fields) > 0 {
		return magnet.Magnet{}, "", "", &ValidationError{Fields: fields}
	}
	return m, email, name, nil
}

// UnsubscribeTarget is who and what an unsubscribe link concerns.
type UnsubscribeTarget struct {
	Subscriber string
	Magnet     magnet.Magnet
	// MaskedEmail lets the owner recognise the address ("j•••@e•••.com")
	// without showing it to whoever holds the link.
	MaskedEmail string
}

// CheckUnsubscribeToken verifies an unsubscribe token without changing
// anything. Every bad token gives ErrBadToken.
func (s *Service) CheckUnsubscribeToken(tok string) (UnsubscribeTarget, error) {
	c, err := s.Keys.Signing.Verify(PurposeUnsubscribe, tok, s.Now())
	if err != nil {
		return UnsubscribeTarget{}, ErrBadToken
	}
	m, ok := s.Catalog.Get(c.Scope)
	if !ok {
		return UnsubscribeTarget{}, ErrUnknownMagnet
	}
	return UnsubscribeTarget{Subscriber: c.Subject, Magnet: m}, nil
}

// DescribeUnsubscribe verifies an unsubscribe token and adds the masked
// address for the page. It only reads.
func (s *Service) DescribeUnsubscribe(ctx context.Context, tok string) (UnsubscribeTarget, error) {
	t, err := s.CheckUnsubscribeToken(tok)
	if err != nil {
		return t, err
	}
	ledger, err := s.Store.Ledger(ctx, t.Subscriber)
	if err != nil {
		return t, fmt.Errorf("read ledger: %w", err)
	}
	if email := lastEmail(ledger); email != "" {
		t.MaskedEmail = MaskAddress(email)
	}
	return t, nil
}

// Withdraw withdraws marketing consent for the token's subscriber and magnet
// by appending a `withdrawn` event. It is idempotent: if consent is not
// currently given (already withdrawn, or never granted) nothing is written
// and it still succeeds, so replays and double clicks are harmless.
func (s *Service) Withdraw(ctx context.Context, tok, method string, ev Evidence) (UnsubscribeTarget, error) {
	t, err := s.CheckUnsubscribeToken(tok)
	if err != nil {
		return t, err
	}
	err = s.commitAfterLedger(ctx, t.Subscriber, func(ledger []Event) Write {
		if !MarketingStatus(ledger, t.Magnet.ID).Consented() {
			return Write{}
		}
		return Write{Events: []Event{{
			Subscriber: t.Subscriber, Type: EventWithdrawn, At: s.Now().UTC(), Magnet: t.Magnet.ID,
			Email: lastEmail(ledger), Method: method,
			SourceIP: ev.SourceIP, UserAgent: ev.UserAgent, RequestID: ev.RequestID,
		}}}
	})
	if err != nil {
		return t, fmt.Errorf("record withdrawal: %w", err)
	}
	return t, nil
}

// LedgerFor returns the ledger of the person with this address.
func (s *Service) LedgerFor(ctx context.Context, address string) ([]Event, error) {
	email, err := NormaliseAddress(address)
	if err != nil {
		return nil, &ValidationError{Fields: map[string]string{"email": "Enter a valid email address."}}
	}
	events, err := s.Store.Ledger(ctx, s.Keys.Subject.SubscriberID(email))
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	return events, nil
}

func lastEmail(ledger []Event) string {
	for i := len(ledger) - 1; i >= 0; i-- {
		if ledger[i].Email != "" {
			return ledger[i].Email
		}
	}
	return ""
}
