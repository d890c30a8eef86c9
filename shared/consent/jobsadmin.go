package consent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrNotRetryable is returned by RetryJob for a job that is not failed:
// only a failed job is moved back to pending (a pending or sending one is
// still being delivered; a sent or skipped one is done).
var ErrNotRetryable = errors.New("only a failed job can be retried")

// errNoOutbox: the service was built without Jobs.
var errNoOutbox = errors.New("no job store configured (Service.Jobs)")

// FailedJobs calls fn for every delivery job that failed — a permanent
// rejection by the mail provider, or a webhook that refused a
// notification — oldest first, and stops at fn's first error, which it
// returns. It reads the whole outbox (on DynamoDB, a Scan).
func (s *Service) FailedJobs(ctx context.Context, fn func(Job) error) error {
	if s.Jobs == nil {
		return fmt.Errorf("failed jobs: %w", errNoOutbox)
	}
	jobs, err := s.listJobs(ctx, JobFilter{State: JobFailed})
	if err != nil {
		return fmt.Errorf("failed jobs: %w", err)
	}
	for _, j := range jobs {
		if err := fn(j); err != nil {
			return err
		}
	}
	return nil
}

// RetryJob moves the failed job id back to pending — its reason cleared,
// its attempts counted from zero again, its expiry at least JobTTL from now
// — so it is delivered again like a new job: at once by the local
// dispatcher (Kick), and on AWS by SweepFunction within 5 minutes (the job
// is listed in the due-jobs index again). The message is composed from the
// ledger as it is when sent, so a person who withdrew or was suppressed
// meanwhile gets what the ledger now allows, or nothing (skipped).
//
// A job that is not failed is an error wrapping ErrNotRetryable (also when
// another retry won the race); an unknown id one wrapping ErrNotFound
// (jobs expire JobTTL after they were created).
func (s *Service) RetryJob(ctx context.Context, id string) (Job, error) {
	if s.Jobs == nil {
		return Job{}, fmt.Errorf("retry job: %w", errNoOutbox)
	}
	id = strings.TrimSpace(id)
	if id == "" {
		return Job{}, &ValidationError{Fields: map[string]string{"id": "Name the job to retry."}}
	}
	j, err := s.Jobs.Job(ctx, id)
	if err != nil {
		return Job{}, fmt.Errorf("retry job: %w", err)
	}
	if j.State != JobFailed {
		return Job{}, fmt.Errorf("retry job %s: it is %s: %w", id, j.State, ErrNotRetryable)
	}
	now := s.Now().UTC()
	expires := j.ExpiresAt
	if expires.IsZero() || expires.Before(now.Add(JobTTL)) {
		expires = now.Add(JobTTL)
	}
	j, err = s.Jobs.UpdateJob(ctx, JobUpdate{ID: id, From: JobFailed, To: JobPending, Attempts: 0, UpdatedAt: now, ExpiresAt: expires})
	switch {
	case errors.Is(err, ErrConflict):
		return Job{}, fmt.Errorf("retry job %s: %w: %w", id, ErrNotRetryable, err)
	case err != nil:
		return Job{}, fmt.Errorf("retry job %s: %w", id, err)
	}
	if s.Kick != nil {
		s.Kick()
	}
	return j, nil
}

// RetryResult is what retrying one job did: the job as it is now, or why
// it could not be retried.
type RetryResult struct {
	ID    string `json:"id"`
	Job   *Job   `json:"job,omitempty"`
	Error string `json:"error,omitempty"`
}

// RetryFailedJobs retries every failed job (RetryJob), oldest first,
// calling progress after each with how many are done of how many. A job
// that another retry took meanwhile is reported in its result, not as an
// error; other errors stop the run and are returned with the results so
// far.
func (s *Service) RetryFailedJobs(ctx context.Context, progress func(done, total int)) ([]RetryResult, error) {
	if s.Jobs == nil {
		return nil, fmt.Errorf("retry failed jobs: %w", errNoOutbox)
	}
	failed, err := s.listJobs(ctx, JobFilter{State: JobFailed})
	if err != nil {
		return nil, fmt.Errorf("retry failed jobs: %w", err)
	}
	results := make([]RetryResult, 0, len(failed))
	for i, f := range failed {
		j, err := s.RetryJob(ctx, f.ID)
		switch {
		case errors.Is(err, ErrNotRetryable), errors.Is(err, ErrNotFound):
			results = append(results, RetryResult{ID: f.ID, Error: err.Error()})
		case err != nil:
			return results, err
		default:
			results = append(results, RetryResult{ID: f.ID, Job: &j})
		}
		if progress != nil {
			progress(i+1, len(failed))
		}
	}
	return results, nil
}

// listJobs returns the jobs matching f, oldest first (ties by id).
func (s *Service) listJobs(ctx context.Context, f JobFilter) ([]Job, error) {
	var jobs []Job
	if err := s.Jobs.ListJobs(ctx, f, func(j Job) error {
		jobs = append(jobs, j)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	sortJobs(jobs)
	return jobs, nil
}

func sortJobs(jobs []Job) {
	slices.SortFunc(jobs, func(a, b Job) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
}

// Delivery is one email (or webhook notification) about a person, as their
// record shows it: a delivery job without the fields only the sender needs.
// Delivery records expire JobTTL after they were created.
type Delivery struct {
	ID        string    `json:"id"`
	Kind      JobKind   `json:"kind"`
	Magnet    string    `json:"magnet,omitempty"`
	State     JobState  `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Attempts  int       `json:"attempts"`
	// MessageID is the mail provider's id once sent.
	MessageID string `json:"message_id,omitempty"`
	// Reason says why it failed or was skipped.
	Reason string `json:"reason,omitempty"`
}

// deliveries returns the subscriber's delivery jobs, oldest first.
func (s *Service) deliveries(ctx context.Context, subscriber string) ([]Delivery, error) {
	if s.Jobs == nil {
		return nil, errNoOutbox
	}
	jobs, err := s.listJobs(ctx, JobFilter{Subscriber: subscriber})
	if err != nil {
		return nil, err
	}
	out := make([]Delivery, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, Delivery{ID: j.ID, Kind: j.Kind, Magnet: j.Magnet, State: j.State, CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt,
			Attempts: j.Attempts, MessageID: j.MessageID, Reason: j.Reason})
	}
	return out, nil
}
