package consent

import (
	"errors"
	"time"
)

// JobKind is what a delivery job sends. The message is composed when the
// job is delivered, from the ledger as it is then.
type JobKind string

const (
	JobFreebie      JobKind = "freebie"       // the download, plus consent links while consent stands
	JobReceipt      JobKind = "receipt"       // consent receipt after confirmation
	JobConfirmLink  JobKind = "confirm-link"  // a fresh double opt-in link
	JobWithdrawLink JobKind = "withdraw-link" // self-service unsubscribe link
	// Self-service data requests (RequestPrivacyLink): the link to the
	// page that shows a copy of the person's data, or erases it. The kind
	// of request is the job's kind, so the job needs no field for it.
	JobPrivacyExportLink JobKind = "privacy-export-link"
	JobPrivacyEraseLink  JobKind = "privacy-erase-link"
)

// JobState is where a delivery job is. Jobs move only forward by
// conditional writes: pending → sending → sent | failed | skipped, and back
// from sending to pending when a retryable failure releases them.
type JobState string

const (
	JobPending JobState = "pending"
	JobSending JobState = "sending"
	JobSent    JobState = "sent"
	JobFailed  JobState = "failed"
	// JobSkipped: not sent because the ledger no longer allows it (e.g.
	// suppressed, or the consent a receipt was for was withdrawn).
	JobSkipped JobState = "skipped"
)

// Job is one email to deliver: the outbox entry a sign-up writes in the same
// atomic step as its ledger events.
type Job struct {
	ID         string    `json:"id"`
	Kind       JobKind   `json:"kind"`
	Subscriber string    `json:"subscriber"`
	Magnet     string    `json:"magnet"`
	Email      string    `json:"email"`
	Name       string    `json:"name,omitempty"`
	State      JobState  `json:"state"`
	Attempts   int       `json:"attempts"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	// LeaseUntil bounds a `sending` state: after it, a crashed sender's job
	// may be taken again (the documented duplicate window).
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	// BaseURL is what emailed links start with, fixed when the job is
	// created (on Lambda it may come from the request's API domain).
	BaseURL   string `json:"base_url"`
	MessageID string `json:"message_id,omitempty"` // provider id once sent
	Reason    string `json:"reason,omitempty"`     // why it failed or was skipped
	// ExpiresAt is the record's TTL.
	ExpiresAt time.Time `json:"expires_at"`
}

// ClaimRecord is a TTL record written atomically with a Commit, holding a
// value (e.g. a request fingerprint) that GetClaim returns.
type ClaimRecord struct {
	Key       string
	Value     string
	ExpiresAt time.Time
}

// Write is everything one Commit writes, all or nothing.
type Write struct {
	Events []Event       // appended at their Seq positions (CheckBatch rules)
	Jobs   []Job         // created; a job id that exists is a conflict
	Claims []ClaimRecord // created unless an unexpired record of the key exists
	// Now decides which claims have expired.
	Now time.Time
}

// ErrClaimTaken wraps ErrConflict when Commit failed because one of its
// claims is held by an unexpired record.
var ErrClaimTaken = errors.New("claim already taken")

// JobUpdate is a conditional state change of a job.
type JobUpdate struct {
	ID   string
	From JobState
	// LeaseExpiredBefore, if set, lets the update also take a job that is in
	// state `sending` with a lease that ended before this time (a crashed
	// sender).
	LeaseExpiredBefore time.Time
	To                 JobState
	Attempts           int
	UpdatedAt          time.Time
	LeaseUntil         time.Time
	MessageID          string
	Reason             string
	ExpiresAt          time.Time
}

// Mailer errors the delivery logic acts on. Mailer adapters wrap provider
// errors with one of these (errors.Is); any other error is treated as
// transient and retried within bounds.
var (
	// ErrThrottled: the provider asked us to slow down (SES
	// TooManyRequestsException, LimitExceededException, HTTP 429) or failed
	// transiently (5xx). Retried with backoff; the job is never dropped.
	ErrThrottled = errors.New("mail provider throttled or unavailable")
	// ErrRejected: the provider refused this message for good (SES
	// MessageRejected, an invalid or account-suppressed address). Recorded
	// as failed with the reason and not retried.
	ErrRejected = errors.New("mail provider rejected the message")
)

// FeedbackKind is what the mail provider reported about a delivered message.
type FeedbackKind string

const (
	FeedbackPermanentBounce FeedbackKind = "permanent-bounce"
	FeedbackComplaint       FeedbackKind = "complaint"
)

// Feedback is one bounce or complaint notification.
type Feedback struct {
	// ID identifies the notification (e.g. the SNS message id), so a
	// notification delivered twice is recorded once.
	ID         string
	Kind       FeedbackKind
	Recipients []string
	At         time.Time // when the provider saw it
	Detail     string    // e.g. bounce sub-type or complaint feedback type; no personal data
}
