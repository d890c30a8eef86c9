package memstore

import (
	"context"
	"slices"
	"strings"

	"github.com/unbundled/unbundled/shared/consent"
)

// ListJobs implements consent.Store, oldest CreatedAt first (ties by id).
// It copies the matching jobs first, so fn may call the store.
func (s *Store) ListJobs(_ context.Context, f consent.JobFilter, fn func(consent.Job) error) error {
	s.mu.Lock()
	var matched []consent.Job
	for _, j := range s.jobs {
		if (f.Subscriber == "" || j.Subscriber == f.Subscriber) && (f.State == "" || j.State == f.State) {
			matched = append(matched, j)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(matched, func(a, b consent.Job) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, j := range matched {
		if err := fn(j); err != nil {
			return err
		}
	}
	return nil
}
