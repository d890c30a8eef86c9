package consent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/token"
)

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

// Service runs the use cases. All fields are required except Kick, Metrics, Limits
// (zero: no limits), Counters (needed only for a source limit), and
// Erasure, Scanner and Jobs (needed only by the operator's use cases:
// erasure, imports, exports, proof, retries; MayEmail then cannot say an
// address was erased).
type Service struct {
	Catalog *magnet.Catalog
	// Ledger keeps events, and the jobs and claims written with them.
	Ledger LedgerStore
	// Wordings archives the consent wording versions events refer to.
	Wordings WordingArchive
	// Counters keeps the per-source request counts Limits needs.
	Counters CounterStore
	// Erasure erases people and keeps their tombstones: Erase uses it, and
	// Import and MayEmail ask it whether an address was erased.
	Erasure Eraser
	// Scanner reads the whole ledger, for SuppressionList and Audit.
	Scanner LedgerScanner
	// Jobs lists delivery jobs and moves failed ones back to pending, for
	// the operator: Proof and Export list a person's deliveries, FailedJobs
	// and RetryJob recover failures.
	Jobs Outbox
	// Retention is the storage-limitation policy (zero periods: defaults);
	// privacy notices state it and the retention run applies it.
	Retention Retention
	// Minimiser truncates the evidence of old events, for ApplyRetention
	// (needed only by it, and not for a dry run).
	Minimiser EvidenceMinimiser
	// Hosting is where the service runs and keeps data, as privacy notices
	// state it (see NoticeFor): the AWS region, or Local for the local
	// server (zero: AWS, region not stated). Its BaseURL may stay empty:
	// notices then link under LinkBase.
	Hosting Hosting
	// Limits bounds emails per address and requests per source. The zero
	// value turns every limit off; production wiring uses DefaultLimits
	// unless configured otherwise.
	Limits Limits
	Keys   token.Keys
	// BaseURL is the public URL the API is reached at, without a trailing
	// slash; emailed links start with it.
	BaseURL string
	Now     func() time.Time
	// Notify queues a webhook notification (JobNotify) with every
	// withdrawal, objection, permanent bounce and complaint; set it when a
	// webhook is configured, and give the Deliverer a Notifier.
	Notify bool
	// Kick, if set, is called after a write that queued delivery jobs (the
	// local dispatcher uses it to deliver at once; on AWS the table's stream
	// does this).
	Kick func()
	// Metrics, if set, is told the dashboard's counts as they happen: the
	// figures of every ledger write (see Tally) and, through RecordCounts,
	// the sign-up posts the web layer refuses or drops as bots.
	Metrics Metrics

	archived sync.Map // "magnet\nversion" archived by this Service
	notices  sync.Map // noticeKey -> Notice built by archiveNotice
}

// commitAfterLedger commits the Write next(ledger) returns, its events at
// the end of the subscriber's ledger. When another writer took the position
// first it re-reads and decides again, sleeping a random time between tries
// (capped exponential backoff, "full jitter") until p's deadline after the
// first lost race or ctx's, whichever is sooner; only then does it give up
// with an error wrapping ErrConflict. A Write with nothing in it is skipped. A taken claim is
// returned at once (wrapping ErrClaimTaken): the caller decides what it
// means. Jobs written are announced through Kick.
func (s *Service) commitAfterLedger(ctx context.Context, subscriber string, p retryPolicy, next func([]Event) (Write, error)) error {
	var deadline time.Time // set at the first lost race
	for attempt := 0; ; attempt++ {
		ledger, err := s.Ledger.Events(ctx, subscriber)
		if err != nil {
			return err
		}
		w, err := next(ledger)
		if err != nil {
			return err
		}
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
		err = s.Ledger.Commit(ctx, w)
		if err == nil {
			s.kick(w)
			s.recordWrite(ctx, ledger, w.Events)
			return nil
		}
		if !errors.Is(err, ErrConflict) || errors.Is(err, ErrClaimTaken) {
			return err
		}
		// A write that succeeded but whose reply was lost is retried by the
		// SDK and then reports a conflict with itself: re-read, and if our
		// first event is there, it was written.
		if len(w.Events) > 0 {
			if written, rerr := s.ledgerHas(ctx, subscriber, w.Events[0].ID); rerr == nil && written {
				s.kick(w)
				s.recordWrite(ctx, ledger, w.Events)
				return nil
			}
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(p.Deadline)
		}
		if err := p.wait(ctx, attempt, deadline); err != nil {
			return fmt.Errorf("gave up after %d attempts: %w: %w", attempt+1, err, ErrConflict)
		}
	}
}

func (s *Service) kick(w Write) {
	if len(w.Jobs) > 0 && s.Kick != nil {
		s.Kick()
	}
}

func (s *Service) ledgerHas(ctx context.Context, subscriber, eventID string) (bool, error) {
	ledger, err := s.Ledger.Events(ctx, subscriber)
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

// LedgerFor returns the ledger of the person with this address.
func (s *Service) LedgerFor(ctx context.Context, address string) ([]Event, error) {
	email, err := NormaliseAddress(address)
	if err != nil {
		return nil, &ValidationError{Fields: map[string]string{"email": "Enter a valid email address."}}
	}
	events, err := s.Ledger.Events(ctx, s.Keys.Subject.SubscriberID(email))
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
