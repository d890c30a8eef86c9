package localserver

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// dispatchBatch is how many due jobs one pass takes.
const dispatchBatch = 200

// dispatchWorkers deliver concurrently, so one job sleeping in backoff does
// not hold up the rest; the deliverer's limiter still paces them together.
const dispatchWorkers = 4

// dispatchEvery is how often the dispatcher looks for due jobs without
// being kicked (deferred jobs, expired leases).
const dispatchEvery = time.Second

// dispatcher is the local stand-in for the AWS stream consumer: it delivers
// the same outbox jobs through the same consent.Deliverer, woken by Kick
// after every write that queues mail and by a timer for retries.
type dispatcher struct {
	deliverer *consent.Deliverer
	store     consent.Store
	logger    *slog.Logger
	kick      chan struct{}
}

func newDispatcher(d *consent.Deliverer, logger *slog.Logger) *dispatcher {
	return &dispatcher{deliverer: d, store: d.Service.Store, logger: logger, kick: make(chan struct{}, 1)}
}

// Kick asks for a pass soon; it never blocks.
func (d *dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// start runs passes until the returned stop function is called.
func (d *dispatcher) start() func() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(dispatchEvery)
		defer ticker.Stop()
		for {
			d.drain(ctx)
			select {
			case <-ctx.Done():
				return
			case <-d.kick:
			case <-ticker.C:
			}
		}
	}()
	return func() error {
		cancel()
		<-done
		return nil
	}
}

// drain delivers due jobs until a pass sends nothing.
func (d *dispatcher) drain(ctx context.Context) {
	for ctx.Err() == nil {
		jobs, err := d.store.DueJobs(ctx, time.Now(), dispatchBatch)
		if err != nil {
			if ctx.Err() == nil {
				d.logger.Error("list due jobs", "error", err.Error())
			}
			return
		}
		if d.deliverAll(ctx, jobs) == 0 {
			return
		}
	}
}

// deliverAll delivers jobs with dispatchWorkers workers and returns how many
// were sent. Deferred jobs stay due for a later pass.
func (d *dispatcher) deliverAll(ctx context.Context, jobs []consent.Job) int64 {
	var sent atomic.Int64
	work := make(chan string)
	var wg sync.WaitGroup
	for range dispatchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				outcome, err := d.deliverer.Deliver(ctx, id)
				switch {
				case err != nil && !errors.Is(err, consent.ErrDeferred) && ctx.Err() == nil:
					d.logger.Error("deliver job", "job", id, "error", err.Error())
				case outcome == consent.OutcomeSent:
					sent.Add(1)
				}
			}
		}()
	}
	for _, j := range jobs {
		work <- j.ID
	}
	close(work)
	wg.Wait()
	return sent.Load()
}
