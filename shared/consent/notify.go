package consent

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// JobNotify tells the business's other sending tools (a newsletter tool, a
// CRM) that someone left: the outbox delivers it to the configured webhook,
// at least once, retried like email.
const JobNotify JobKind = "notify"

// notifyJobPrefix starts a notify job's id; the rest is the id of the event
// it reports, so the job needs no fields of its own and a receiver can
// de-duplicate on the notification id.
const notifyJobPrefix = "notify-"

// Notification is what the webhook receives for each withdrawal, objection,
// permanent bounce or complaint. It carries the address: the receiver needs
// it to stop mailing the person. ID is stable across retries.
type Notification struct {
	ID      string    `json:"id"`
	Type    EventType `json:"type"` // withdrawn, objected or suppressed
	Email   string    `json:"email"`
	Purpose string    `json:"purpose,omitempty"` // withdrawn only
	Method  string    `json:"method"`
	At      time.Time `json:"at"`
}

// Notifier delivers notifications (the webhook adapter). An error wrapping
// ErrRejected is permanent; any other error is retried.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// notifies reports whether other tools must hear of events of type t.
func notifies(t EventType) bool {
	return t == EventWithdrawn || t == EventObjected || t == EventSuppressed
}

// withNotifications adds a notify job for each event in w that other tools
// must hear of, when s.Notify is set. Each such event must already have its
// ID.
func (s *Service) withNotifications(ctx context.Context, w Write) Write {
	if !s.Notify {
		return w
	}
	for _, e := range w.Events {
		if !notifies(e.Type) {
			continue
		}
		j := s.newJob(ctx, JobNotify, e.Subscriber, e.Magnet, e.Email, "")
		j.ID = notifyJobPrefix + e.ID
		w.Jobs = append(w.Jobs, j)
	}
	return w
}

// notification builds the notification for a notify job from the ledger,
// or says why there is nothing to send.
func notification(job Job, ledger []Event) (Notification, string) {
	id := strings.TrimPrefix(job.ID, notifyJobPrefix)
	for _, e := range ledger {
		if e.ID != id {
			continue
		}
		n := Notification{ID: e.ID, Type: e.Type, Email: e.Email, Method: e.Method, At: e.At}
		if e.Type == EventWithdrawn {
			n.Purpose = EventPurpose(ledger, e)
		}
		return n, ""
	}
	return Notification{}, fmt.Sprintf("event %s is not in the ledger", id)
}
