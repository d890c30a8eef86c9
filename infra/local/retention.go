package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// retentionFirstRun is how soon after start the server first applies the
// retention policy (sooner if -retention-every is shorter): not at once,
// so a server started for a moment writes nothing it was not asked to.
const retentionFirstRun = time.Minute

// registerRetentionFlags adds the retention flags to fs and returns a
// function that, once fs is parsed, gives the policy and how often to
// apply it (0: never in the server), or a usage error.
func registerRetentionFlags(fs *flag.FlagSet) func() (consent.Retention, time.Duration, error) {
	days := consent.DefaultRetention.Days()
	fs.IntVar(&days.Unconfirmed, "retention-unconfirmed-days", days.Unconfirmed, fmt.Sprintf("erase people who never held a marketing basis (freebie only, or never confirmed) this many days after their last activity (%d-%d)", consent.UnconfirmedDaysRange[0], consent.UnconfirmedDaysRange[1]))
	fs.IntVar(&days.Evidence, "retention-evidence-days", days.Evidence, fmt.Sprintf("minimise the IP address and user agent of events older than this many days (%d-%d)", consent.EvidenceDaysRange[0], consent.EvidenceDaysRange[1]))
	fs.IntVar(&days.Withdrawn, "retention-withdrawn-days", days.Withdrawn, fmt.Sprintf("erase people who withdrew this many days after the withdrawal (%d-%d)", consent.WithdrawnDaysRange[0], consent.WithdrawnDaysRange[1]))
	every := fs.Duration("retention-every", 24*time.Hour, "apply the retention policy this often, the first time a minute after start (0: never here; `unbundled retention run` applies it on demand)")
	return func() (consent.Retention, time.Duration, error) {
		policy := days.Retention()
		if days.Unconfirmed <= 0 || days.Evidence <= 0 || days.Withdrawn <= 0 || policy.Check() != nil {
			return consent.Retention{}, 0, fmt.Errorf("-retention-unconfirmed-days must be %d-%d, -retention-evidence-days %d-%d and -retention-withdrawn-days %d-%d",
				consent.UnconfirmedDaysRange[0], consent.UnconfirmedDaysRange[1], consent.EvidenceDaysRange[0], consent.EvidenceDaysRange[1],
				consent.WithdrawnDaysRange[0], consent.WithdrawnDaysRange[1])
		}
		if *every < 0 {
			return consent.Retention{}, 0, fmt.Errorf("-retention-every must not be negative")
		}
		return policy, *every, nil
	}
}

// applyRetentionEvery applies the service's retention policy now and then
// — first after retentionFirstRun or every, whichever is shorter, then
// every `every` — until the returned stop function is called. It logs
// counts only, never an address.
func applyRetentionEvery(service *consent.Service, every time.Duration, logger *slog.Logger) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		timer := time.NewTimer(min(every, retentionFirstRun))
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			r, err := service.ApplyRetention(ctx, consent.RetentionOptions{})
			attrs := []any{"people", r.People, "kept", r.Kept, "erased_unconfirmed", r.ErasedUnconfirmed, "erased_withdrawn", r.ErasedWithdrawn,
				"people_minimised", r.PeopleMinimised, "events_minimised", r.EventsMinimised, "failed", r.Failed}
			switch {
			case err != nil && ctx.Err() == nil:
				logger.Error("retention incomplete", append(attrs, "error", err.Error())...)
			case err == nil:
				logger.Info("retention", attrs...)
			}
			timer.Reset(every)
		}
	}()
	return func() error {
		cancel()
		<-done
		return nil
	}
}
