package consent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/unbundled/unbundled/shared/magnet"
)

// SignupRequest is a visitor's form submission.
type SignupRequest struct {
	Email   string
	Magnet  string
	Name    string
	Consent bool   // true only if the unticked checkbox was ticked
	Method  string // MethodForm or MethodJSON
	// Purposes are the ids (magnet.ExtraPurpose.ID) of the magnet's extra
	// purposes whose own unticked boxes were ticked. Each is independent of
	// Consent and of the others; ticking only an extra is fine. validate
	// puts them in the magnet's order.
	Purposes []string
	// SubscriberType is who the person signs up as (one of SubscriberTypes;
	// "" is SubscriberIndividual), and Organisation, for SubscriberCompany,
	// the organisation and their role there. Only a magnet that asks
	// (magnet.Magnet.AskSubscriberType) takes them; see CheckSubscriber.
	SubscriberType string
	Organisation   Organisation
	// WordingVersion is the consent wording version the form was rendered
	// with; empty means the form did not say, and the magnet's current
	// version is recorded, marked WordingUnverified (see
	// Event.WordingStatus).
	WordingVersion string
	// IdempotencyKey is the client's Idempotency-Key header, if any.
	IdempotencyKey string
	// PageURL is the page the form was posted from (scheme, host and path
	// of the Referer or Origin header; see Event.PageURL), if known. The
	// HTTP edge cleans it; it is recorded on the `signup` event as is.
	PageURL string
	Evidence
}

// maxSignupRounds bounds how often a sign-up decides again after losing a
// race for an email-cap slot to a concurrent request for the same address.
const maxSignupRounds = 8

// Signup records a sign-up and delivers the freebie. The freebie goes out
// whether or not consent was given; only a ticked box records a `granted`
// event — one per ticked box: the main one for the magnet's purpose, each
// extra one for its own — and makes the email carry unsubscribe links. Invalid
// input returns *ValidationError and nothing is stored or sent; a source
// over its limit gets *RateLimitError, likewise.
//
// Consent never goes backwards: a ticked box from someone whose consent is
// active keeps it active (a new wording version is recorded as a new grant,
// which waits for confirmation beside the active one only if the magnet
// asks for re-confirmation). The same address, magnet and choice again
// within DedupeWindow is the same sign-up — with or without an
// Idempotency-Key — and past the address's email cap a sign-up is recorded
// once per window, marked DeliveryLimited, and sends nothing.
func (s *Service) Signup(ctx context.Context, req SignupRequest) error {
	m, email, name, err := s.validate(&req)
	if err != nil {
		return err
	}
	if err := s.CheckSource(ctx, req.SourceIP); err != nil {
		return err
	}
	version, status, err := s.wordingFor(ctx, m, strings.TrimSpace(req.WordingVersion), req.Consent)
	if err != nil {
		return err
	}
	notice, err := s.archiveNotice(ctx, m)
	if err != nil {
		return err
	}
	var grants []purposeGrant
	if req.Consent {
		grants = append(grants, purposeGrant{purpose: m.PurposeID(), version: version, status: status})
	}
	for _, id := range req.Purposes {
		p, _ := m.Extra(id) // validate checked it
		v := NewExtraWordingVersion(m, p)
		if err := s.archiveOnce(ctx, m.ID, v); err != nil {
			return err
		}
		// No form names an extra box's wording version: what its box
		// showed is not known, only what is configured now.
		grants = append(grants, purposeGrant{purpose: m.ExtraPurposeID(p), version: v, status: WordingUnverified})
	}
	subscriber := s.Keys.Subject.SubscriberID(email)
	for round := 1; ; round++ {
		var keys signupKeys
		err = s.commitAfterLedger(ctx, subscriber, signupRetry, func(ledger []Event) (Write, error) {
			keys = s.idempotency(req, m, ledger, subscriber, email, name, version.ID)
			return s.signupWrite(ctx, req, m, grants, ledger, subscriber, email, name, notice.ID, keys)
		})
		if !errors.Is(err, ErrClaimTaken) {
			break
		}
		repeated, rerr := s.repeatedSignup(ctx, keys)
		if rerr != nil || repeated {
			return rerr
		}
		if round == maxSignupRounds {
			break
		}
		// A concurrent request took the email-cap slot or limit marker we
		// chose: decide again with what is there now.
	}
	if err != nil {
		return fmt.Errorf("record sign-up: %w", err)
	}
	return nil
}

// purposeGrant is one ticked box of a sign-up: the purpose it asks consent
// for, the wording version recorded for it and whether the form named that
// version (Event.WordingStatus).
type purposeGrant struct {
	purpose string
	version WordingVersion
	status  string
}

// signupWrite decides what one sign-up writes, given the ledger as it is
// now: the `signup` event, then a `granted` event for each ticked box
// (grants, main purpose first) that needs one. Each names the privacy
// notice noticeID.
func (s *Service) signupWrite(ctx context.Context, req SignupRequest, m magnet.Magnet, grants []purposeGrant, ledger []Event, subscriber, email, name, noticeID string, keys signupKeys) (Write, error) {
	now := s.Now().UTC()
	base := Event{
		Subscriber: subscriber, At: now, Magnet: m.ID, Email: email,
		SourceIP: req.SourceIP, UserAgent: req.UserAgent, RequestID: req.RequestID,
		NoticeVersion: noticeID,
	}
	signup := base
	signup.Type, signup.Method, signup.Name = EventSignup, req.Method, name
	signup.PageURL = req.PageURL
	signup.SubscriberType, signup.Organisation = req.SubscriberType, req.Organisation
	signup.ID = NewEventID(now)
	events := []Event{signup}
	for _, pg := range grants {
		confirm, ok := newGrantNeeded(MarketingStatus(ledger, pg.purpose), m, pg.version.ID)
		if !ok {
			continue
		}
		g := base
		g.Type, g.Method, g.Purpose = EventGranted, MethodCheckbox, pg.purpose
		g.WordingVersion, g.Wording, g.PrivacyPolicyURL = pg.version.ID, pg.version.Wording, pg.version.PrivacyPolicyURL
		g.Frequency, g.Controller = pg.version.Frequency, pg.version.Controller
		g.WordingStatus = pg.status
		g.ConfirmationRequired = confirm
		g.ID = NewEventID(now)
		events = append(events, g)
	}
	w := Write{Events: events, Claims: keys.claims(now)}
	for _, g := range events[1:] {
		if g.ConfirmationRequired {
			// The pending confirmation expires with its link; TTL removes
			// it, while the signup and granted events stay as history. One
			// link confirms every grant of the sign-up, so one record,
			// named after the first grant, is enough.
			w.Claims = append(w.Claims, ClaimRecord{Key: pendingKey(subscriber, m.ID, g.ID), ExpiresAt: now.Add(m.ConfirmExpiry())})
			break
		}
	}
	slot, ok, err := s.mailSlot(ctx, subscriber)
	if err != nil {
		return Write{}, err
	}
	if !ok {
		// Past the email cap: record the sign-up (and any grant) once per
		// window, send nothing, and say so in the ledger.
		w.Events[0].Delivery = DeliveryLimited
		w.Claims = append(w.Claims, ClaimRecord{Key: keys.limited, ExpiresAt: now.Add(s.Limits.EmailWindow)})
		return w, nil
	}
	w.Claims = append(w.Claims, slot...)
	w.Jobs = []Job{s.newJob(ctx, JobFreebie, subscriber, m.ID, email, name)}
	return w, nil
}

// newGrantNeeded says whether a ticked box records a new `granted` event,
// and whether that grant needs confirming. A grant for the wording version
// already granted (or already awaiting confirmation) adds nothing. When
// consent is active a new wording version is granted without asking again,
// unless the magnet asks for re-confirmation of new wording; then the new
// grant waits beside the active consent, which stands meanwhile.
func newGrantNeeded(st Status, m magnet.Magnet, versionID string) (confirm, needed bool) {
	switch st.State {
	case StateActive:
		if st.Granted.WordingVersion == versionID || st.Awaiting.WordingVersion == versionID {
			return false, false
		}
		return m.RequiresConfirmation() && m.ReconfirmsNewWording(), true
	case StatePending:
		if st.Granted.WordingVersion == versionID {
			return false, false
		}
	}
	return m.RequiresConfirmation(), true
}

// pendingKey names the pending-confirmation record of one grant; each grant
// has its own, so it never collides with an earlier one.
func pendingKey(subscriber, magnetID, grantID string) string {
	return "pending-confirmation#" + subscriber + "#" + magnetID + "#" + grantID
}

// wordingFor returns the archived wording version a sign-up records, and
// its WordingStatus: the form's version if it names an older one (it must
// be archived for this magnet — anything else is a ValidationError), else
// the magnet's current version, archived the first time this Service uses
// it. A named version (current or older) is WordingVerified; without one
// the current version is recorded as WordingUnverified: the form did not
// say what it showed. The text recorded is always the text the server
// holds, never text sent by the client. A sign-up without consent or
// version needs none.
func (s *Service) wordingFor(ctx context.Context, m magnet.Magnet, id string, consent bool) (WordingVersion, string, error) {
	current := NewWordingVersion(m)
	if id != "" && id != current.ID {
		var v WordingVersion
		err := ErrNotFound // the archive keeps privacy notices too: none is a consent wording
		if !IsNoticeID(id) {
			v, err = s.Wordings.Wording(ctx, m.ID, id)
		}
		if errors.Is(err, ErrNotFound) {
			return v, "", &ValidationError{Fields: map[string]string{"consent_version": "This form is out of date. Reload the page and send it again."}}
		}
		if err != nil {
			return v, "", fmt.Errorf("look up wording version: %w", err)
		}
		return v, WordingVerified, nil
	}
	if id == "" && !consent {
		return WordingVersion{}, "", nil
	}
	status := WordingVerified
	if id == "" {
		status = WordingUnverified
	}
	return current, status, s.archiveOnce(ctx, m.ID, current)
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
// versions (its main checkbox's and each extra purpose's) and its current
// privacy notice (links under ctx's LinkBase) now rather than at their
// first sign-up, so a form rendered from this configuration can name its
// version at once (the local server calls it at start). Old versions are
// never removed.
func (s *Service) ArchiveCurrentWordings(ctx context.Context) error {
	for _, m := range s.Catalog.All() {
		if err := s.archiveOnce(ctx, m.ID, NewWordingVersion(m)); err != nil {
			return err
		}
		if _, err := s.archiveNotice(ctx, m); err != nil {
			return err
		}
		for _, p := range m.ExtraPurposes {
			if err := s.archiveOnce(ctx, m.ID, NewExtraWordingVersion(m, p)); err != nil {
				return err
			}
		}
	}
	return nil
}

// validate checks req and returns its magnet, canonical address and
// trimmed name, or a *ValidationError with a message per field. It sets
// req's SubscriberType and Organisation to what the signup event records
// (see CheckSubscriber), and req's Purposes to the extra purposes ticked,
// in the magnet's order (see checkPurposes).
func (s *Service) validate(req *SignupRequest) (magnet.Magnet, string, string, error) {
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
	name, err := CheckName(req.Name)
	var bad *NameError
	if errors.As(err, &bad) {
		fields["name"] = bad.Message
	} else if err != nil {
		fields["name"] = ErrNameChars.Message
	}
	if _, known := fields["magnet"]; !known {
		var problems map[string]string
		req.SubscriberType, req.Organisation, problems = CheckSubscriber(m.AskSubscriberType, req.SubscriberType, req.Organisation)
		maps.Copy(fields, problems)
		var problem string
		if req.Purposes, problem = checkPurposes(m, req.Purposes); problem != "" {
			fields["purposes"] = problem
		}
	}
	if len(fields) > 0 {
		return magnet.Magnet{}, "", "", &ValidationError{Fields: fields}
	}
	return m, email, name, nil
}

// checkPurposes checks the extra purposes a sign-up ticked (ids of m's
// ExtraPurposes) and returns them in m's order, or a message for the
// visitor: each must be one m offers, ticked once.
func checkPurposes(m magnet.Magnet, ticked []string) ([]string, string) {
	if len(ticked) == 0 {
		return nil, ""
	}
	seen := map[string]bool{}
	for _, id := range ticked {
		id = strings.TrimSpace(id)
		if _, ok := m.Extra(id); !ok {
			return nil, "One of the boxes you ticked is not on this form any more. Reload the page and send it again."
		}
		if seen[id] {
			return nil, "The same box was sent more than once; send each ticked box once."
		}
		seen[id] = true
	}
	var ordered []string
	for _, p := range m.ExtraPurposes {
		if seen[p.ID] {
			ordered = append(ordered, p.ID)
		}
	}
	return ordered, ""
}
