package consent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/unbundled/unbundled/shared/magnet"
)

// MaxNameLength caps the optional name, in characters.
const MaxNameLength = 100

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
		v, err := s.Wordings.Wording(ctx, m.ID, id)
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
	if err := s.Wordings.ArchiveWording(ctx, magnetID, v, s.Now().UTC()); err != nil {
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
