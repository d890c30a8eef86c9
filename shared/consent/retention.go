package consent

import "time"

// Retention is how long personal data is kept before it is minimised or
// erased (UK GDPR storage limitation). The zero value of a period means
// "use the default"; see DefaultRetention and (*Retention).Effective.
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

// DefaultRetention is the documented default policy.
var DefaultRetention = Retention{
	Unconfirmed: 30 * 24 * time.Hour,
	Evidence:    365 * 24 * time.Hour,
	Withdrawn:   2 * 365 * 24 * time.Hour,
}

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
