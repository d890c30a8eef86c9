package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/unbundled/unbundled/shared/consent"
)

// The environment variables of the retention policy, in whole days; each
// is optional and defaults to consent.DefaultRetention.
const (
	EnvRetentionUnconfirmedDays = "RETENTION_UNCONFIRMED_DAYS"
	EnvRetentionEvidenceDays    = "RETENTION_EVIDENCE_DAYS"
	EnvRetentionWithdrawnDays   = "RETENTION_WITHDRAWN_DAYS"
)

// retentionFromEnv reads the retention policy: RETENTION_UNCONFIRMED_DAYS
// (7–365, default 30), RETENTION_EVIDENCE_DAYS (30–3650, default 365) and
// RETENTION_WITHDRAWN_DAYS (30–3650, default 730). It returns one error per
// bad variable.
func retentionFromEnv(getenv func(string) string) (consent.Retention, []error) {
	var days consent.RetentionDays
	var errs []error
	for _, v := range []struct {
		name   string
		n      *int
		bounds [2]int
	}{
		{EnvRetentionUnconfirmedDays, &days.Unconfirmed, consent.UnconfirmedDaysRange},
		{EnvRetentionEvidenceDays, &days.Evidence, consent.EvidenceDaysRange},
		{EnvRetentionWithdrawnDays, &days.Withdrawn, consent.WithdrawnDaysRange},
	} {
		raw := strings.TrimSpace(getenv(v.name))
		if raw == "" {
			continue
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < v.bounds[0] || n > v.bounds[1] {
			errs = append(errs, fmt.Errorf("%s: %q is not a whole number of days from %d to %d", v.name, raw, v.bounds[0], v.bounds[1]))
			continue
		}
		*v.n = n
	}
	return days.Retention().Effective(), errs
}
