package consent

import (
	"errors"
	"fmt"
	"time"
)

// The checks below are the preconditions every Store enforces before
// writing, so all implementations refuse the same input the same way. Their
// errors are not ErrConflict: retrying cannot help.

// CheckWrite rejects a Write no store can commit: more than
// MaxBatch items in all, events breaking CheckBatch, a job
// CheckJob rejects, two jobs with one id, or a claim with an empty or
// repeated key. The error is not ErrConflict: retrying cannot help.
func CheckWrite(w Write) error {
	if n := len(w.Events) + len(w.Jobs) + len(w.Claims); n > MaxBatch {
		return fmt.Errorf("commit: %d items, at most %d fit in one commit", n, MaxBatch)
	}
	if len(w.Events) > 0 {
		if err := CheckBatch(w.Events); err != nil {
			return err
		}
	}
	ids := map[string]bool{}
	for _, j := range w.Jobs {
		if err := CheckJob(j); err != nil {
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

// CheckJob rejects a job with an empty id or state, or a time outside years
// 0000-9999. Any state but pending and sending counts as finished, so a
// state consent adds later needs no store change.
func CheckJob(j Job) error {
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

// CheckJobUpdate rejects an update with an empty id or target state, or a
// time outside years 0000-9999.
func CheckJobUpdate(u JobUpdate) error {
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

// CheckArchive rejects what ArchiveWording cannot store meaningfully: an
// empty magnet or version id, or a time outside years 0000-9999.
func CheckArchive(magnetID string, v WordingVersion, at time.Time) error {
	switch y := at.UTC().Year(); {
	case magnetID == "":
		return errors.New("archive wording: empty magnet id")
	case v.ID == "":
		return errors.New("archive wording: empty version id")
	case y < 0 || y > 9999:
		return fmt.Errorf("archive wording %s: time %s out of range", v.ID, at)
	}
	return nil
}
