package consent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/unbundled/unbundled/shared/magnet"
)

// Outcome is what one delivery attempt did.
type Outcome string

const (
	OutcomeSent    Outcome = "sent"    // the provider accepted the message
	OutcomeFailed  Outcome = "failed"  // permanently refused; recorded, not retried
	OutcomeSkipped Outcome = "skipped" // not sent: already done, or the ledger forbids it now
	OutcomeBusy    Outcome = "busy"    // another sender holds the job's lease
)

// ErrDeferred is returned when a job could not be sent yet (throttling,
// transient failures past the retry bound, or a live lease elsewhere). The
// job is left pending (or with its holder); the caller retries later.
var ErrDeferred = errors.New("delivery deferred")

// Limiter paces sends (e.g. golang.org/x/time/rate.Limiter).
type Limiter interface {
	Wait(ctx context.Context) error
}

// Backoff bounds retries of throttled or transient sends within one
// delivery: Attempts tries, sleeping a random time up to Base·2ⁿ (at most
// Max) between them ("full jitter").
type Backoff struct {
	Attempts  int
	Base, Max time.Duration
	// Sleep waits for d or until ctx is done; nil means a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultBackoff suits SES: about 6 tries over at most ~20 s.
var DefaultBackoff = Backoff{Attempts: 6, Base: 200 * time.Millisecond, Max: 5 * time.Second}

// DefaultLease is how long a sender holds a job. It exceeds the longest
// DefaultBackoff run, so a live sender is never overtaken; a sender that
// crashed after the provider accepted but before recording `sent` is
// overtaken after it, which is the one window for a duplicate.
const DefaultLease = 2 * time.Minute

// Deliverer sends queued jobs: the same code behind the local dispatcher and
// the AWS stream consumer.
type Deliverer struct {
	Service *Service
	// Jobs is the outbox the jobs are taken from and recorded in.
	Jobs   JobQueue
	Mailer Mailer
	// Notifier delivers JobNotify jobs to the webhook; nil skips them ("no
	// webhook is configured").
	Notifier Notifier
	Limiter  Limiter // nil: no pacing
	Backoff  Backoff // zero: DefaultBackoff
	Lease    time.Duration
	// Workers is how many jobs DeliverDue delivers at once (at least 1), so
	// one job sleeping in backoff does not hold up the rest.
	Workers int
}

// Deliver sends job id at most once: it takes the job (pending → sending, by
// a conditional write, so redelivered stream records and concurrent workers
// cause one send), composes the message from the ledger as it is now, and
// records sent, failed or skipped. Retryable failures past the backoff bound
// put the job back to pending and return an error wrapping ErrDeferred.
func (d *Deliverer) Deliver(ctx context.Context, id string) (Outcome, error) {
	store, now := d.Jobs, d.Service.Now().UTC()
	job, err := store.Job(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return OutcomeSkipped, nil // expired and removed by TTL
	}
	if err != nil {
		return "", fmt.Errorf("read job: %w", err)
	}
	if job.State != JobPending && job.State != JobSending {
		return OutcomeSkipped, nil
	}
	lease := d.Lease
	if lease == 0 {
		lease = DefaultLease
	}
	job, err = store.UpdateJob(ctx, JobUpdate{
		ID: id, From: JobPending, LeaseExpiredBefore: now, To: JobSending,
		Attempts: job.Attempts + 1, UpdatedAt: now, LeaseUntil: now.Add(lease), ExpiresAt: job.ExpiresAt,
	})
	if errors.Is(err, ErrConflict) {
		return d.afterLostTake(ctx, id)
	}
	if err != nil {
		return "", fmt.Errorf("take job: %w", err)
	}

	attempt, paced, skip, err := d.prepare(ctx, job)
	if err != nil {
		return "", d.release(ctx, job, err)
	}
	if skip != "" {
		return OutcomeSkipped, d.finish(ctx, job, JobSkipped, "", skip)
	}
	messageID, err := d.send(ctx, attempt, paced)
	switch {
	case err == nil:
		return OutcomeSent, d.finish(ctx, job, JobSent, messageID, "")
	case errors.Is(err, ErrRejected):
		return OutcomeFailed, d.finish(ctx, job, JobFailed, "", err.Error())
	default:
		return "", d.release(ctx, job, err)
	}
}

// afterLostTake: someone else changed the job first — finished it, or holds
// a live lease.
func (d *Deliverer) afterLostTake(ctx context.Context, id string) (Outcome, error) {
	job, err := d.Jobs.Job(ctx, id)
	if err != nil {
		return "", fmt.Errorf("re-read job: %w", err)
	}
	if job.State == JobSending || job.State == JobPending {
		return OutcomeBusy, fmt.Errorf("job held by another sender: %w", ErrDeferred)
	}
	return OutcomeSkipped, nil
}

// prepare returns what delivering job does, one attempt at a time, and
// whether the Limiter paces it (email does; webhooks do not) — or why it
// must not be sent.
func (d *Deliverer) prepare(ctx context.Context, job Job) (attempt func(context.Context) (string, error), paced bool, skip string, err error) {
	if job.Kind == JobNotify {
		if d.Notifier == nil {
			return nil, false, "no webhook is configured", nil
		}
		ledger, err := d.Service.Ledger.Events(ctx, job.Subscriber)
		if err != nil {
			return nil, false, "", fmt.Errorf("read ledger: %w", err)
		}
		n, skip := notification(job, ledger)
		if skip != "" {
			return nil, false, skip, nil
		}
		return func(ctx context.Context) (string, error) { return n.ID, d.Notifier.Notify(ctx, n) }, false, "", nil
	}
	msg, skip, err := d.compose(ctx, job)
	if err != nil || skip != "" {
		return nil, false, skip, err
	}
	return func(ctx context.Context) (string, error) { return d.Mailer.Send(ctx, msg) }, true, "", nil
}

// send makes attempts within the backoff bound until one succeeds or is
// rejected; paced attempts wait for the Limiter first.
func (d *Deliverer) send(ctx context.Context, attempt func(context.Context) (string, error), paced bool) (string, error) {
	b := d.Backoff
	if b.Attempts == 0 {
		b = DefaultBackoff
	}
	var err error
	for try := range b.Attempts {
		if try > 0 {
			if serr := b.sleep(ctx, try); serr != nil {
				return "", serr
			}
		}
		if paced && d.Limiter != nil {
			if lerr := d.Limiter.Wait(ctx); lerr != nil {
				return "", fmt.Errorf("wait for send rate: %w", lerr)
			}
		}
		var id string
		id, err = attempt(ctx)
		if err == nil || errors.Is(err, ErrRejected) {
			return id, err
		}
	}
	return "", err
}

func (b Backoff) sleep(ctx context.Context, attempt int) error {
	ceiling := min(b.Base<<(attempt-1), b.Max)
	wait := time.Duration(rand.Int64N(int64(ceiling) + 1))
	if b.Sleep != nil {
		return b.Sleep(ctx, wait)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (d *Deliverer) finish(ctx context.Context, job Job, to JobState, messageID, reason string) error {
	_, err := d.Jobs.UpdateJob(ctx, JobUpdate{
		ID: job.ID, From: JobSending, To: to, Attempts: job.Attempts, UpdatedAt: d.Service.Now().UTC(),
		MessageID: messageID, Reason: reason, ExpiresAt: job.ExpiresAt,
	})
	if err != nil {
		return fmt.Errorf("record job %s: %w", to, err)
	}
	return nil
}

// release puts a job that could not be sent back to pending, so it is
// retried later and never lost.
func (d *Deliverer) release(ctx context.Context, job Job, cause error) error {
	_, err := d.Jobs.UpdateJob(ctx, JobUpdate{
		ID: job.ID, From: JobSending, To: JobPending, Attempts: job.Attempts, UpdatedAt: d.Service.Now().UTC(),
		Reason: cause.Error(), ExpiresAt: job.ExpiresAt,
	})
	if err != nil {
		return fmt.Errorf("release job after %v: %w", cause, err)
	}
	return fmt.Errorf("%w: %w", ErrDeferred, cause)
}

// compose builds the job's message from the ledger now, or says why it must
// not be sent.
//
// A freebie carries a confirm link while any grant for the magnet's
// purposes (its main one and its extra ones) awaits confirmation — naming
// the newest sign-up's first such grant, so one click confirms every box
// that sign-up ticked — and the unsubscribe link while consent for any of
// them stands; the one-click list headers only while consent for the main
// purpose stands, since that is what they withdraw.
func (d *Deliverer) compose(ctx context.Context, job Job) (Message, string, error) {
	s := d.Service
	ledger, err := s.Ledger.Events(ctx, job.Subscriber)
	if err != nil {
		return Message{}, "", fmt.Errorf("read ledger: %w", err)
	}
	if suppressed, reason := Suppressed(ledger); suppressed {
		return Message{}, reason, nil
	}
	m, ok := s.Catalog.Get(job.Magnet)
	if !ok {
		return Message{}, "magnet " + job.Magnet + " is no longer configured", nil
	}
	ctx = WithBaseURL(ctx, job.BaseURL)
	st := MarketingStatus(ledger, m.PurposeID())
	var msg Message
	switch job.Kind {
	case JobFreebie:
		msg, err = s.freebieMessage(ctx, m, greetingName(job, ledger), job.Subscriber, freebieStatus(ledger, m, st))
		if !st.Consented() {
			// One-click withdraws the magnet's main purpose; with no
			// consent for it standing (only an extra purpose's), the list
			// headers would stop nothing. The visible link stays: its page
			// stops every purpose of the controller.
			msg.Headers = nil
		}
	case JobReceipt:
		grants, reason := receiptGrants(ledger, m)
		if len(grants) == 0 {
			return Message{}, "consent is no longer active: " + reason, nil
		}
		msg, err = s.receiptMessage(ctx, m, heldName(job, ledger), job.Subscriber, grants, ledger)
	case JobConfirmLink:
		grants, awaiting := pendingConfirmation(ledger, m)
		if !awaiting {
			return Message{}, "nothing awaits confirmation: " + st.Reason, nil
		}
		msg, err = s.confirmLinkMessage(ctx, m, heldName(job, ledger), job.Subscriber, grants, ledger)
	case JobWithdrawLink:
		if !canLeave(ledger, magnet.ControllerPurpose(m.Controller)) {
			return Message{}, "no consent to withdraw: " + st.Reason, nil
		}
		msg, err = s.withdrawalMessage(ctx, m, job.Subscriber)
	case JobPrivacyExportLink, JobPrivacyEraseLink:
		if len(ledger) == 0 {
			return Message{}, "no data held: the ledger is empty", nil
		}
		msg, err = s.privacyLinkMessage(ctx, m, job, ledger)
	default:
		return Message{}, "unknown job kind " + string(job.Kind), nil
	}
	if err != nil {
		return Message{}, "", err
	}
	s.address(&msg, m, job.Email)
	return msg, "", nil
}

// DeliverDue delivers up to limit due jobs (pending, or sending with an
// expired lease), oldest first, with Workers deliveries at a time (the
// Limiter still paces them together), and returns how many it sent. Jobs
// that are deferred stay due; other errors are returned, joined, after the
// rest of the batch has been tried.
func (d *Deliverer) DeliverDue(ctx context.Context, limit int) (int, error) {
	jobs, err := d.Jobs.DueJobs(ctx, d.Service.Now().UTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("list due jobs: %w", err)
	}
	var (
		mu   sync.Mutex
		sent int
		errs []error
		wg   sync.WaitGroup
	)
	work := make(chan string)
	for range max(d.Workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				outcome, err := d.Deliver(ctx, id)
				mu.Lock()
				if err != nil && !errors.Is(err, ErrDeferred) {
					errs = append(errs, fmt.Errorf("job %s: %w", id, err))
				}
				if outcome == OutcomeSent {
					sent++
				}
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		work <- j.ID
	}
	close(work)
	wg.Wait()
	return sent, errors.Join(errs...)
}

// freebieStatus is the status a magnet m's freebie is composed from, given
// st, the status of m's main purpose: st itself, except that the grant
// awaiting confirmation is the one the confirm link must name (see
// pendingConfirmation), whichever of m's purposes it is for, and that
// consent for an extra purpose alone also counts as consent standing.
func freebieStatus(ledger []Event, m magnet.Magnet, st Status) Status {
	if grants, ok := pendingConfirmation(ledger, m); ok {
		if st.State == StateActive {
			st.Awaiting = grants[0]
			return st
		}
		return Status{State: StatePending, Since: grants[0].At, Granted: grants[0]}
	}
	if st.Consented() {
		return st
	}
	for _, p := range m.PurposeIDs()[1:] {
		if extra := MarketingStatus(ledger, p); extra.Consented() {
			return extra
		}
	}
	return st
}
