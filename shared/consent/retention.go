package consent

import (
	"errors"
	"fmt"
	"time"
)

// Retention is how long personal data is kept before it is minimised or
// erased (UK GDPR storage limitation). The zero value of a period means
// "use the default"; see DefaultRetention and (*Retention).Effective.
// Service.ApplyRetention applies it.
type Retention struct {
	// Unconfirmed: a person with no standing marketing basis — a
	// freebie-only sign-up, or double opt-in never confirmed — is erased
	// this long after their last event (long enough to handle a bounce or
	// complaint about the freebie).
	Unconfirmed time.Duration `json:"unconfirmed"`
	// Evidence: IP addresses and user agents recorded as evidence are
	// truncated this long after the event.
	Evidence time.Duration `json:"evidence"`
	// Withdrawn: a person who withdrew (and holds no other basis) is
	// erased this long after the withdrawal, keeping the tombstone.
	Withdrawn time.Duration `json:"withdrawn"`
}

// Day is the unit retention periods are configured in.
const Day = 24 * time.Hour

// DefaultRetention is the documented default policy.
var DefaultRetention = Retention{
	Unconfirmed: 30 * Day,
	Evidence:    365 * Day,
	Withdrawn:   2 * 365 * Day,
}

// The bounds, in days, a configured period must lie within (Check). The
// unconfirmed period must leave time to handle a bounce or a complaint
// about the freebie; the others must keep evidence long enough to answer
// a complaint to the regulator, and no longer than ten years.
var (
	UnconfirmedDaysRange = [2]int{7, 365}
	EvidenceDaysRange    = [2]int{30, 3650}
	WithdrawnDaysRange   = [2]int{30, 3650}
)

// Effective returns r with every zero period replaced by its default.
func (r Retention) Effective() Retention {
	if r.Unconfirmed == 0 {
		r.Unconfirmed = DefaultRetention.Unconfirmed
	}
	if r.Evidence == 0 {
		r.Evidence = DefaultRetention.Evidence
	}
	if r.Withdrawn == 0 {
		r.Withdrawn = DefaultRetention.Withdrawn
	}
	return r
}

// RetentionDays is a policy in whole days, as it is configured (template
// parameters, environment, flags) and stated.
type RetentionDays struct {
	Unconfirmed int `json:"unconfirmed_days"`
	Evidence    int `json:"evidence_days"`
	Withdrawn   int `json:"withdrawn_days"`
}

// Retention is d as a policy; a zero number of days means the default.
func (d RetentionDays) Retention() Retention {
	return Retention{Unconfirmed: time.Duration(d.Unconfirmed) * Day, Evidence: time.Duration(d.Evidence) * Day, Withdrawn: time.Duration(d.Withdrawn) * Day}
}

// Days is the effective policy in whole days (rounded down).
func (r Retention) Days() RetentionDays {
	e := r.Effective()
	return RetentionDays{Unconfirmed: int(e.Unconfirmed / Day), Evidence: int(e.Evidence / Day), Withdrawn: int(e.Withdrawn / Day)}
}

// Check reports, naming each, the effective periods outside their bounds
// (UnconfirmedDaysRange, EvidenceDaysRange, WithdrawnDaysRange).
// ApplyRetention refuses to run a policy that fails it.
func (r Retention) Check() error {
	e := r.Effective()
	var errs []error
	for _, p := range []struct {
		name   string
		d      time.Duration
		bounds [2]int
	}{
		{"unconfirmed", e.Unconfirmed, UnconfirmedDaysRange},
		{"evidence", e.Evidence, EvidenceDaysRange},
		{"withdrawn", e.Withdrawn, WithdrawnDaysRange},
	} {
		if p.d < time.Duration(p.bounds[0])*Day || p.d > time.Duration(p.bounds[1])*Day {
			errs = append(errs, fmt.Errorf("retention: the %s period must be %d to %d days, not %s", p.name, p.bounds[0], p.bounds[1], days(p.d)))
		}
	}
	return errors.Join(errs...)
}

// days says d in days where it is whole days ("30 days"), else as a duration.
func days(d time.Duration) string {
	if d%Day == 0 {
		return fmt.Sprintf("%d days", d/Day)
	}
	return d.String()
}
