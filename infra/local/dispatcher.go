package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// dispatchBatch is how many due jobs one pass takes.
const dispatchBatch = 200

// dispatchWorkers deliver concurrently (see consent.Deliverer.Workers).
const dispatchWorkers = 4

// dispatchEvery is how often the dispatcher looks for due jobs without
// being kicked (deferred jobs, expired leases).
const dispatchEvery = time.Second

// dispatcher is the local stand-in for the AWS stream consumer: it delivers
// the same outbox jobs through the same consent.Deliverer, woken by Kick
// after every write that queues mail and by a timer for retries.
type dispatcher struct {
	deliverer *consent.Deliverer
	logger    *slog.Logger
	kick      chan struct{}
}

func newDispatcher(d *consent.Deliverer, logger *slog.Logger) *dispatcher {
	d.Workers = dispatchWorkers
	return &dispatcher{deliverer: d, logger: logger, kick: make(chan struct{}, 1)}
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
		sent, err := d.deliverer.DeliverDue(ctx, dispatchBatch)
		if err != nil && ctx.Err() == nil {
			d.logger.Error("deliver due jobs", "error", err.Error())
		}
		if sent == 0 {
			return
		}
	}
}
