package sqlitestore

import (
	"context"
	"fmt"

	"github.com/unbundled/unbundled/shared/consent"
)

// ListJobs implements consent.JobLister: the jobs matching f, oldest
// CreatedAt first (ties by id). It reads them all before calling fn, so fn
// may write to the store.
func (s *Store) ListJobs(ctx context.Context, f consent.JobFilter, fn func(consent.Job) error) error {
	rows, err := s.db.QueryContext(ctx, `
		SELECT data FROM jobs
		WHERE (? = '' OR state = ?) AND (? = '' OR json_extract(data, '$.subscriber') = ?)
		ORDER BY created_at, id`,
		string(f.State), string(f.State), f.Subscriber, f.Subscriber)
	if err != nil {
		return fmt.Errorf("list jobs: %w", err)
	}
	var jobs []consent.Job
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			rows.Close()
			return fmt.Errorf("list jobs: scan: %w", err)
		}
		j, err := decodeJob(data)
		if err != nil {
			rows.Close()
			return fmt.Errorf("list jobs: %w", err)
		}
		jobs = append(jobs, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list jobs: %w", err)
	}
	for _, j := range jobs {
		if err := fn(j); err != nil {
			return err
		}
	}
	return nil
}
