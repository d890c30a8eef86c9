package consent

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned when a looked-up record does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned by LedgerStore.Commit when a ledger position is
// already taken: another writer got there first. Callers re-read and decide
// again.
var ErrConflict = errors.New("ledger position already taken")

// LedgerStore keeps the append-only consent ledger and the records written
// atomically with it: delivery jobs (the outbox) and TTL claims. The sign-up,
// confirmation and withdrawal use cases need nothing else from storage.
type LedgerStore interface {
	// Events returns one subscriber's ledger, oldest (lowest Seq) first, or
	// an empty slice if there are none.
	Events(ctx context.Context, subscriber string) ([]Event, error)
	// Commit writes w all or nothing: events at their Seq positions (1 to
	// MaxBatch consecutive events of one subscriber, CheckBatch's rules), new
	// jobs, and claims. If an event position or job id is taken, or a
	// claim's key is held by a record unexpired at w.Now, nothing is written
	// and the error wraps ErrConflict (and, for a claim, ErrClaimTaken).
	Commit(ctx context.Context, w Write) error
	// GetClaim returns the value of the claim key unexpired at now, or an
	// error wrapping ErrNotFound.
	GetClaim(ctx context.Context, key string, now time.Time) (string, error)
}

// WordingArchive keeps every text ever shown at collection, immutably: the
// consent wording versions (ids "w…"), so a `granted` event's
// WordingVersion always resolves to the exact text, and the privacy notices
// (ids "notice-…", the full text in Wording; see Notice), so an event's
// NoticeVersion does too.
type WordingArchive interface {
	// ArchiveWording stores v under v.ID unless already archived — an
	// archived version is immutable: if v.ID exists with different content
	// the error wraps ErrConflict and nothing changes — and records that
	// magnetID uses it. Idempotent; safe to call concurrently.
	ArchiveWording(ctx context.Context, magnetID string, v WordingVersion, at time.Time) error
	// Wording returns archived version id if magnetID uses it; otherwise an
	// error wrapping ErrNotFound.
	Wording(ctx context.Context, magnetID, id string) (WordingVersion, error)
}

// JobQueue is the delivery side of the outbox: jobs are created by
// LedgerStore.Commit and moved through their states here.
type JobQueue interface {
	// Job returns one delivery job, or an error wrapping ErrNotFound.
	Job(ctx context.Context, id string) (Job, error)
	// UpdateJob applies u only if the job is in state u.From — or, when
	// u.LeaseExpiredBefore is set, in state sending with LeaseUntil before
	// it — and returns the job as updated. It replaces every field u names:
	// a zero LeaseUntil, MessageID, Reason or ExpiresAt clears it. Otherwise
	// nothing changes and the error wraps ErrConflict (ErrNotFound if there
	// is no such job). ExpiresAt is kept in whole seconds, rounded up (it is
	// the TTL).
	UpdateJob(ctx context.Context, u JobUpdate) (Job, error)
	// DueJobs returns up to limit (at least 1) jobs that are pending, or
	// sending with a lease ended before now, oldest CreatedAt first (ties by
	// id). On DynamoDB it reads an eventually consistent index: act on a
	// listed job only through UpdateJob's condition.
	DueJobs(ctx context.Context, now time.Time, limit int) ([]Job, error)
}

// CounterStore counts requests in fixed windows, so rate limits hold across
// Lambda instances and restarts.
type CounterStore interface {
	// Count adds one to the counter named key and returns the new count. A
	// counter that does not exist, or expired at or before now, starts again
	// at 1 and expires at expiresAt (kept in whole seconds, rounded up, as
	// the TTL); later counts in the same window keep that expiry. Callers
	// put the window in key, so each window has its own counter. Safe for
	// concurrent use: n concurrent calls return 1…n in some order.
	Count(ctx context.Context, key string, expiresAt, now time.Time) (int, error)
}

// Eraser carries out the right to erasure: it removes everything a store
// holds on one person and keeps only a tombstone, so the address is never
// re-added by an import.
type Eraser interface {
	// Erase writes tombstone t unless one with t.ID exists (the first one
	// stays), then deletes every item holding the subscriber's data: their
	// ledger events, the claims whose key names the subscriber, and their
	// delivery jobs. It returns what it deleted. Idempotent: erasing again
	// deletes only what was written since. Events written concurrently
	// with an erasure may survive it; erasing again removes them.
	Erase(ctx context.Context, subscriber string, t Tombstone) (Erased, error)
	// Tombstone returns the tombstone with id, or an error wrapping
	// ErrNotFound.
	Tombstone(ctx context.Context, id string) (Tombstone, error)
}

// LedgerScanner reads the whole ledger, for operator exports (the
// suppression list). It is slow on a large ledger and never on a request's
// hot path.
type LedgerScanner interface {
	// ScanEvents calls fn for every stored event whose type is one of
	// types (every event if types is empty), in no particular order, and
	// stops at fn's first error, which it returns.
	ScanEvents(ctx context.Context, types []EventType, fn func(Event) error) error
}

// JobFilter narrows JobLister.ListJobs; an empty field matches any job.
type JobFilter struct {
	Subscriber string
	State      JobState
}

// JobLister lists delivery jobs, for the operator: one person's deliveries
// (proof of consent, the right of access) and the failed jobs to retry. On
// DynamoDB it reads the whole table; it is never on a request's hot path.
type JobLister interface {
	// ListJobs calls fn for every stored job matching f, in no particular
	// order, and stops at fn's first error, which it returns. fn may call
	// the store.
	ListJobs(ctx context.Context, f JobFilter, fn func(Job) error) error
}

// Outbox is the operator's view of the delivery jobs: read, list, and
// move a failed one back to pending (Service.RetryJob).
type Outbox interface {
	JobQueue
	JobLister
}

// EvidenceMinimiser is the one change to recorded events the ledger
// allows: the retention run (Service.ApplyRetention) minimises the
// evidence of old events — their source IP is truncated to its network and
// their user agent dropped, by MinimisedEvidence — and nothing else.
type EvidenceMinimiser interface {
	// MinimiseEvidence replaces the SourceIP and UserAgent of each of the
	// subscriber's events recorded before `before` with those of
	// MinimisedEvidence(event), leaving every other field as it was, and
	// returns how many events it changed. Events already minimised are
	// not changed or counted, so running it again changes nothing. An
	// event erased meanwhile is skipped. It fails, changing nothing, if
	// subscriber is empty.
	MinimiseEvidence(ctx context.Context, subscriber string, before time.Time) (int, error)
}

// Tombstone is all that is kept of an erased person: a keyed hash of the
// canonical address (token.SubjectHasher.TombstoneID, never reversible
// without the subject key), when and why.
type Tombstone struct {
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// Erased counts what one Erase deleted.
type Erased struct {
	Events int `json:"events"`
	Claims int `json:"claims"`
	Jobs   int `json:"jobs"`
}

// Store is everything a storage adapter implements: sqlitestore (the local
// server), dynamostore (AWS) and the in-memory test store. One conformance
// suite, consent/storetest, runs all three through every contract. Use
// cases take the narrow interface they need, not this one.
type Store interface {
	LedgerStore
	WordingArchive
	JobQueue
	CounterStore
	Eraser
	LedgerScanner
	JobLister
	EvidenceMinimiser
}

// WordingVersion is one archived combination of what a person is told next
// to the checkbox. ID is a hash of the content (see NewWordingVersion).
type WordingVersion struct {
	ID               string    `json:"id"`
	Wording          string    `json:"wording"`
	PrivacyPolicyURL string    `json:"privacy_policy_url"`
	Frequency        string    `json:"frequency"`
	Controller       string    `json:"controller"`
	ArchivedAt       time.Time `json:"archived_at"`
}

// Message is one email, ready to send. Adapters must put only these headers
// on the wire; every value here was built by this package from validated
// configuration, never from visitor input.
type Message struct {
	FromName  string
	FromEmail string
	To        string
	ReplyTo   string
	Subject   string
	Text      string
	HTML      string
	Headers   []Header
}

// Header is an extra email header such as List-Unsubscribe.
type Header struct {
	Name  string
	Value string
}

// Mailer sends email. Implementations: sesmail (Amazon SES v2) and mailbox
// (the local server's inbox).
type Mailer interface {
	// Send sends msg and returns the provider's message id.
	Send(ctx context.Context, msg Message) (string, error)
}

// MaxBatch is the most items one Commit may carry (DynamoDB's transaction limit).
const MaxBatch = 100

// CheckBatch enforces the precondition on a Commit's events, for every store
// to call first:
// 1 to MaxBatch events of one subscriber with consecutive Seq from at least
// 1, and times in years 0000-9999. The error is not ErrConflict: retrying
// cannot help.
func CheckBatch(events []Event) error {
	if len(events) > MaxBatch {
		return fmt.Errorf("append events: %d events, at most %d fit in one append", len(events), MaxBatch)
	}
	for i, e := range events {
		if e.Subscriber == "" {
			return errors.New("append events: empty subscriber")
		}
		if e.Subscriber != events[0].Subscriber {
			return fmt.Errorf("append events: event %d belongs to another subscriber", i)
		}
		if want := events[0].Seq + i; e.Seq != want || e.Seq < 1 {
			return fmt.Errorf("append events: event %d has seq %d, want %d (consecutive, from 1)", i, e.Seq, max(want, 1))
		}
		if y := e.At.UTC().Year(); y < 0 || y > 9999 {
			return fmt.Errorf("append event %d: time %s out of range", e.Seq, e.At)
		}
	}
	return nil
}
