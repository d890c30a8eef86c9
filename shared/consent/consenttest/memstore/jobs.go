package memstore

import (
	"context"
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
	if err := consent.CheckJobUpdate(u); err != nil {
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
