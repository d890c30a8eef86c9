// Package feedback reads the bounce and complaint notifications Amazon SES
// publishes to an SNS topic, as a Lambda subscribed to that topic receives
// them, and hands each one to the domain as a consent.Feedback.
//
// Both SES formats are read: configuration-set event publishing
// ("eventType") and identity feedback notifications ("notificationType").
// Their bounce and complaint objects have the same fields.
package feedback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/unbundled/unbundled/shared/consent"
)

// ErrMalformed is wrapped by the error for a record that is not a readable
// SES notification. The error names the record's index, never its content
// (which holds addresses).
var ErrMalformed = errors.New("malformed SES notification")

// validationMessage is the plain-text message SES publishes to a topic when
// it is made an event destination; it is not a notification.
const validationMessage = "Successfully validated SNS topic for Amazon SES event publishing."

// notification is the part of an SES notification this package reads.
type notification struct {
	EventType        string     `json:"eventType"`        // event publishing
	NotificationType string     `json:"notificationType"` // identity notifications
	Bounce           *bounce    `json:"bounce"`
	Complaint        *complaint `json:"complaint"`
}

type bounce struct {
	BounceType        string      `json:"bounceType"` // Permanent, Transient or Undetermined
	BounceSubType     string      `json:"bounceSubType"`
	BouncedRecipients []recipient `json:"bouncedRecipients"`
	Timestamp         string      `json:"timestamp"`
}

type complaint struct {
	ComplainedRecipients  []recipient `json:"complainedRecipients"`
	ComplaintFeedbackType string      `json:"complaintFeedbackType"` // absent without a feedback report
	ComplaintSubType      *string     `json:"complaintSubType"`      // null or OnAccountSuppressionList
	Timestamp             string      `json:"timestamp"`
}

type recipient struct {
	EmailAddress string `json:"emailAddress"`
}

// Parse returns the feedback in event: one consent.Feedback per permanent
// bounce or complaint notification, with ID the SNS message id (so a
// redelivered notification can be recognised), the notification's
// recipients, At its bounce or complaint timestamp (the SNS timestamp if
// it has none) and Detail the bounce sub-type or complaint feedback type
// (the complaint sub-type if there is no feedback type).
//
// Transient and undetermined bounces, notifications of any other type
// (Delivery, Send, Open, ...), notifications without recipients and SES's
// topic validation message produce nothing and no error.
//
// A record that is not a readable SES notification (not JSON, a bounce
// without its bounce object, a bad timestamp, no SNS message id) produces
// an error wrapping ErrMalformed that names the record's index; the other
// records are still parsed, so Parse returns the feedback it could read
// together with one joined error for the rest.
func Parse(event events.SNSEvent) ([]consent.Feedback, error) {
	var (
		out  []consent.Feedback
		errs []error
	)
	for i, rec := range event.Records {
		f, ok, err := parseRecord(rec.SNS)
		if err != nil {
			errs = append(errs, fmt.Errorf("feedback: record %d: %w", i, err))
			continue
		}
		if ok {
			out = append(out, f)
		}
	}
	return out, errors.Join(errs...)
}

// parseRecord reads one SNS message; ok is false when it holds no feedback.
// Its errors never quote the message.
func parseRecord(sns events.SNSEntity) (f consent.Feedback, ok bool, err error) {
	if sns.Message == validationMessage {
		return consent.Feedback{}, false, nil
	}
	var n notification
	if err := json.Unmarshal([]byte(sns.Message), &n); err != nil {
		return consent.Feedback{}, false, fmt.Errorf("%w: not a JSON object of the expected shape", ErrMalformed)
	}
	kind := n.EventType
	if kind == "" {
		kind = n.NotificationType
	}

	var (
		recipients []recipient
		timestamp  string
	)
	switch kind {
	case "Bounce":
		if n.Bounce == nil {
			return consent.Feedback{}, false, fmt.Errorf("%w: bounce object missing", ErrMalformed)
		}
		if n.Bounce.BounceType != "Permanent" {
			return consent.Feedback{}, false, nil
		}
		f = consent.Feedback{Kind: consent.FeedbackPermanentBounce, Detail: detail(n.Bounce.BounceSubType)}
		recipients, timestamp = n.Bounce.BouncedRecipients, n.Bounce.Timestamp
	case "Complaint":
		if n.Complaint == nil {
			return consent.Feedback{}, false, fmt.Errorf("%w: complaint object missing", ErrMalformed)
		}
		d := n.Complaint.ComplaintFeedbackType
		if d == "" && n.Complaint.ComplaintSubType != nil {
			d = *n.Complaint.ComplaintSubType
		}
		f = consent.Feedback{Kind: consent.FeedbackComplaint, Detail: detail(d)}
		recipients, timestamp = n.Complaint.ComplainedRecipients, n.Complaint.Timestamp
	default:
		return consent.Feedback{}, false, nil
	}

	if sns.MessageID == "" {
		return consent.Feedback{}, false, fmt.Errorf("%w: no SNS message id", ErrMalformed)
	}
	f.ID = sns.MessageID
	f.At = sns.Timestamp.UTC()
	if timestamp != "" {
		at, err := time.Parse(time.RFC3339Nano, timestamp)
		if err != nil {
			return consent.Feedback{}, false, fmt.Errorf("%w: timestamp is not RFC 3339", ErrMalformed)
		}
		f.At = at.UTC()
	}
	for _, r := range recipients {
		if r.EmailAddress != "" {
			f.Recipients = append(f.Recipients, r.EmailAddress)
		}
	}
	if len(f.Recipients) == 0 {
		return consent.Feedback{}, false, nil
	}
	return f, true, nil
}

// detailPattern is what a bounce sub-type or complaint feedback type looks
// like (General, OnAccountSuppressionList, abuse, not-spam, ...).
var detailPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// detail keeps a sub-type or feedback type only if it is a plain token, so
// no address or free text from a feedback report reaches the ledger.
func detail(s string) string {
	if s == "" || detailPattern.MatchString(s) {
		return s
	}
	return "other"
}

// Recorder records one feedback notification. Recording must be idempotent
// on Feedback.ID: SNS may deliver a notification more than once, and a
// failed invocation is retried whole.
type Recorder interface {
	RecordFeedback(ctx context.Context, f consent.Feedback) error
}

// Handler returns the Lambda handler for an SNS subscription to the SES
// feedback topic. It records every feedback Parse finds, even when some
// records are malformed or some recordings fail, and then returns an error
// if any record could not be parsed or recorded, so Lambda retries the
// event (and, after its retries, sends it to the function's failure
// destination).
func Handler(recorder Recorder) func(context.Context, events.SNSEvent) error {
	return func(ctx context.Context, event events.SNSEvent) error {
		found, err := Parse(event)
		errs := []error{err}
		for _, f := range found {
			if err := recorder.RecordFeedback(ctx, f); err != nil {
				errs = append(errs, fmt.Errorf("feedback: recording %s %s: %w", f.Kind, f.ID, err))
			}
		}
		return errors.Join(errs...)
	}
}
