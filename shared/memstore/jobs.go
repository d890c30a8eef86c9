package memstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// Job implements consent.Store.
func (s *Store) Job(_ context.Context, id string) (consent.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return consent.Job{}, fmt.Errorf("job %s: %w", id, consent.ErrNotFound)
	}
	return j, nil
}

// UpdateJob implements consent.Store. Every field u names replaces the
// job's: a zero LeaseUntil, MessageID, Reason or ExpiresAt clears it. It
// fails, without wrapping consent.ErrConflict, if u breaks the rules
// checkJobUpdate enforces.
func (s *Store) UpdateJob(_ context.Context, u consent.JobUpdate) (consent.Job, error) {
	if err := checkJobUpdate(u); err != nil {
		return consent.Job{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[u.ID]
	if !ok {
		return consent.Job{}, fmt.Errorf("update job %s: %w", u.ID, consent.ErrNotFound)
	}
	takeover := !u.LeaseExpiredBefore.IsZero() && j.State == consent.JobSending && j.LeaseUntil.Before(u.LeaseExpiredBefore)
	if j.State != u.From && !takeover {
		return consent.Job{}, fmt.Errorf("update job %s from %s: job is %s: %w", u.ID, u.From, j.State, consent.ErrConflict)
	}
	j.State, j.Attempts, j.MessageID, j.Reason = u.To, u.Attempts, u.MessageID, u.Reason
	j.UpdatedAt, j.LeaseUntil, j.ExpiresAt = u.UpdatedAt, u.LeaseUntil, u.ExpiresAt
	j = normalJob(j)
	s.jobs[u.ID] = j
	s.writes++
	return j, nil
}

// DueJobs implements consent.Store; jobs created at the same instant come
// in id order. It fails if limit < 1.
func (s *Store) DueJobs(_ context.Context, now time.Time, limit int) ([]consent.Job, error) {
	if limit < 1 {
		return nil, fmt.Errorf("due jobs: limit %d, want at least 1", limit)
	}
	s.mu.Lock()
	var due []consent.Job
	for _, j := range s.jobs {
		if j.State == consent.JobPending || j.State == consent.JobSending && j.LeaseUntil.Before(now) {
			due = append(due, j)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(due, func(a, b consent.Job) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return due[:min(limit, len(due))], nil
}

// normalJob is j as the other stores return it: times in UTC, ExpiresAt
// rounded up to whole seconds (the precision of DynamoDB's TTL attribute).
func normalJob(j consent.Job) consent.Job {
	j.CreatedAt, j.UpdatedAt, j.LeaseUntil = j.CreatedAt.UTC(), j.UpdatedAt.UTC(), j.LeaseUntil.UTC()
	if !j.ExpiresAt.IsZero() {
		j.ExpiresAt = time.Unix(ceilUnix(j.ExpiresAt), 0).UTC()
	}
	return j
}

// ceilUnix is t in Unix seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	if t.Nanosecond() > 0 {
		return t.Unix() + 1
	}
	return t.Unix()
}

// The checks below enforce what the SQLite and DynamoDB stores also enforce
// (each store keeps its own copy; consent has no CheckWrite yet).

// checkWrite rejects a Write no store can commit: more than
// consent.MaxBatch items in all, events breaking consent.CheckBatch, a job
// checkJob rejects, two jobs with one id, or a claim with an empty or
// repeated key. The error is not ErrConflict: retrying cannot help.
func checkWrite(w consent.Write) error {
	if n := len(w.Events) + len(w.Jobs) + len(w.Claims); n > consent.MaxBatch {
		return fmt.Errorf("commit: %d items, at most %d fit in one commit", n, consent.MaxBatch)
	}
	if len(w.Events) > 0 {
		if err := consent.CheckBatch(w.Events); err != nil {
			return err
		}
	}
	ids := map[string]bool{}
	for _, j := range w.Jobs {
		if err := checkJob(j); err != nil {
			return err
		}
		if ids[j.ID] {
			return fmt.Errorf("commit: job %s appears twice", j.ID)
		}
		ids[j.ID] = true
	}
	keys := map[string]bool{}
	for _, c := range w.Claims {
		if c.Key == "" {
			return errors.New("commit: claim with an empty key")
		}
		if keys[c.Key] {
			return fmt.Errorf("commit: claim %s appears twice", c.Key)
		}
		keys[c.Key] = true
	}
	return nil
}

// checkJob rejects a job with an empty id or state, or a time outside years
// 0000-9999. Any state but pending and sending counts as finished, so a
// state consent adds later needs no store change.
func checkJob(j consent.Job) error {
	if j.ID == "" {
		return errors.New("create job: empty id")
	}
	if j.State == "" {
		return fmt.Errorf("create job %s: empty state", j.ID)
	}
	for _, t := range []time.Time{j.CreatedAt, j.UpdatedAt, j.LeaseUntil, j.ExpiresAt} {
		if !inRange(t) {
			return fmt.Errorf("create job %s: time %s out of range", j.ID, t)
		}
	}
	return nil
}

// checkJobUpdate rejects an update with an empty id or target state, or a
// time outside years 0000-9999.
func checkJobUpdate(u consent.JobUpdate) error {
	if u.ID == "" {
		return errors.New("update job: empty id")
	}
	if u.To == "" {
		return fmt.Errorf("update job %s: empty target state", u.ID)
	}
	for _, t := range []time.Time{u.LeaseExpiredBefore, u.UpdatedAt, u.LeaseUntil, u.ExpiresAt} {
		if !inRange(t) {
			return fmt.Errorf("update job %s: time %s out of range", u.ID, t)
		}
	}
	return nil
}

func inRange(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}
