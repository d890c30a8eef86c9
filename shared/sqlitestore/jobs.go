package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// insertJobs creates each job; a taken id is a conflict.
func insertJobs(ctx context.Context, tx *sql.Tx, jobs []consent.Job) error {
	if len(jobs) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `
		INSERT INTO jobs (id, state, created_at, lease_until, expires_at, data)
		VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("create jobs: prepare: %w", err)
	}
	defer stmt.Close()
	for _, j := range jobs {
		j = normalJob(j)
		data, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("create job %s: encode: %w", j.ID, err)
		}
		_, err = stmt.ExecContext(ctx, j.ID, string(j.State), j.CreatedAt.Format(timeLayout), j.LeaseUntil.Format(timeLayout), expiresAt(j.ExpiresAt), string(data))
		if isPrimaryKeyViolation(err) {
			return fmt.Errorf("create job %s: %w", j.ID, consent.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("create job %s: %w", j.ID, err)
		}
	}
	return nil
}

// Job returns the job with id, or an error wrapping consent.ErrNotFound.
func (s *Store) Job(ctx context.Context, id string) (consent.Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, "SELECT data FROM jobs WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return consent.Job{}, fmt.Errorf("job %s: %w", id, consent.ErrNotFound)
	}
	if err != nil {
		return consent.Job{}, fmt.Errorf("job %s: %w", id, err)
	}
	return j, nil
}

// UpdateJob applies u with one conditional UPDATE and reads the job back,
// in one transaction. Every field u names replaces the job's: a zero
// LeaseUntil, MessageID, Reason or ExpiresAt clears it (ExpiresAt is kept in
// whole seconds, rounded up). If the job is neither in state u.From nor, with
// u.LeaseExpiredBefore set, sending under a lease that ended before it,
// nothing changes and the error wraps consent.ErrConflict, or
// consent.ErrNotFound if there is no such job. It fails, wrapping neither,
// if u has an empty id or target state, or a time outside years 0000-9999.
func (s *Store) UpdateJob(ctx context.Context, u consent.JobUpdate) (consent.Job, error) {
	if err := consent.CheckJobUpdate(u); err != nil {
		return consent.Job{}, err
	}
	changed := normalJob(consent.Job{UpdatedAt: u.UpdatedAt, LeaseUntil: u.LeaseUntil, ExpiresAt: u.ExpiresAt})
	// A JSON merge patch (RFC 7396) of the stored job: null removes a key,
	// as encoding/json omits the empty value of these fields.
	patch, err := json.Marshal(map[string]any{
		"state":       u.To,
		"attempts":    u.Attempts,
		"updated_at":  changed.UpdatedAt,
		"lease_until": orNull(!changed.LeaseUntil.IsZero(), changed.LeaseUntil),
		"message_id":  orNull(u.MessageID != "", u.MessageID),
		"reason":      orNull(u.Reason != "", u.Reason),
		"expires_at":  changed.ExpiresAt,
	})
	if err != nil {
		return consent.Job{}, fmt.Errorf("update job %s: encode: %w", u.ID, err)
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return consent.Job{}, fmt.Errorf("update job %s: begin: %w", u.ID, err)
	}
	defer tx.Rollback()
	takeover := !u.LeaseExpiredBefore.IsZero()
	res, err := tx.ExecContext(ctx, `
		UPDATE jobs SET state = ?, lease_until = ?, expires_at = ?, data = json_patch(data, ?)
		WHERE id = ? AND (state = ? OR (? AND state = 'sending' AND lease_until < ?))`,
		string(u.To), changed.LeaseUntil.Format(timeLayout), expiresAt(changed.ExpiresAt), string(patch),
		u.ID, string(u.From), takeover, u.LeaseExpiredBefore.UTC().Format(timeLayout))
	if err != nil {
		return consent.Job{}, fmt.Errorf("update job %s: %w", u.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return consent.Job{}, fmt.Errorf("update job %s: %w", u.ID, err)
	}
	j, err := scanJob(tx.QueryRowContext(ctx, "SELECT data FROM jobs WHERE id = ?", u.ID))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return consent.Job{}, fmt.Errorf("update job %s: %w", u.ID, consent.ErrNotFound)
	case err != nil:
		return consent.Job{}, fmt.Errorf("update job %s: read back: %w", u.ID, err)
	case n == 0:
		return consent.Job{}, fmt.Errorf("update job %s from %s: job is %s: %w", u.ID, u.From, j.State, consent.ErrConflict)
	}
	if err := tx.Commit(); err != nil {
		return consent.Job{}, fmt.Errorf("update job %s: commit: %w", u.ID, err)
	}
	return j, nil
}

// orNull is v if set, else nil (JSON null).
func orNull(set bool, v any) any {
	if !set {
		return nil
	}
	return v
}

// DueJobs returns up to limit jobs that are pending, or sending under a
// lease that ended before now, oldest CreatedAt first, then by id. It reads
// index jobs_due. It fails if limit < 1.
func (s *Store) DueJobs(ctx context.Context, now time.Time, limit int) ([]consent.Job, error) {
	if limit < 1 {
		return nil, fmt.Errorf("due jobs: limit %d, want at least 1", limit)
	}
	rows, err := s.db.QueryContext(ctx, dueJobsQuery, clampTime(now), limit)
	if err != nil {
		return nil, fmt.Errorf("due jobs: %w", err)
	}
	defer rows.Close()
	var jobs []consent.Job
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("due jobs: scan: %w", err)
		}
		j, err := decodeJob(data)
		if err != nil {
			return nil, fmt.Errorf("due jobs: %w", err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due jobs: %w", err)
	}
	return jobs, nil
}

// dueJobsQuery takes now (timeLayout) and a limit. Its state IN (...) term
// is the WHERE clause of the partial index jobs_due, so SQLite reads that
// index, in ORDER BY order.
const dueJobsQuery = `
	SELECT data FROM jobs
	WHERE state IN ('pending', 'sending') AND (state = 'pending' OR lease_until < ?)
	ORDER BY created_at, id
	LIMIT ?`

// scanJob reads one job's data column; the error is sql.ErrNoRows if there
// is none.
func scanJob(row *sql.Row) (consent.Job, error) {
	var data []byte
	if err := row.Scan(&data); err != nil {
		return consent.Job{}, err
	}
	return decodeJob(data)
}

func decodeJob(data []byte) (consent.Job, error) {
	var j consent.Job
	if err := json.Unmarshal(data, &j); err != nil {
		return consent.Job{}, fmt.Errorf("decode job: %w", err)
	}
	return normalJob(j), nil
}

// normalJob is j as stored: times in UTC, ExpiresAt rounded up to whole
// seconds (the precision of DynamoDB's TTL attribute).
func normalJob(j consent.Job) consent.Job {
	j.CreatedAt, j.UpdatedAt, j.LeaseUntil = j.CreatedAt.UTC(), j.UpdatedAt.UTC(), j.LeaseUntil.UTC()
	if !j.ExpiresAt.IsZero() {
		j.ExpiresAt = time.Unix(ceilUnix(j.ExpiresAt), 0).UTC()
	}
	return j
}

// expiresAt is the expires_at column of a job: Unix seconds, or NULL for no
// expiry.
func expiresAt(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ceilUnix(t)
}

// The checks below enforce what the in-memory and DynamoDB stores also
// enforce (each store keeps its own copy; consent has no CheckWrite yet).

// clampTime formats t as a time key, clamped to the years the layout holds.
func clampTime(t time.Time) string {
	t = t.UTC()
	switch {
	case t.Year() < 0:
		return "0000"
	case t.Year() > 9999:
		return "9999-12-31T23:59:59.999999999Z~"
	}
	return t.Format(timeLayout)
}
