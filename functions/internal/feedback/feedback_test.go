package feedback_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/unbundled/unbundled/functions/internal/feedback"
	"github.com/unbundled/unbundled/shared/consent"
)

// The fixtures in testdata are SNS events as Lambda receives them, each
// wrapping an SES message shaped like the examples in the SES Developer
// Guide: "Amazon SNS notification examples for Amazon SES" (identity
// notifications, notification-*.json) and "Examples of event data that
// Amazon SES publishes to Amazon SNS" (configuration-set event publishing,
// event-*.json).
func load(t *testing.T, name string) events.SNSEvent {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.SNSEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParse(t *testing.T) {
	tests := []struct {
		fixture string
		want    []consent.Feedback
	}{
		{"notification-permanent-bounce.json", []consent.Feedback{{
			ID: "a7cc3b86-2dd1-5e8c-9a3b-3f1b1c9c0b01", Kind: consent.FeedbackPermanentBounce,
			Recipients: []string{"jane@example.com", "richard@example.com"},
			At:         at("2016-01-27T14:59:38.237Z"), Detail: "General",
		}}},
		{"notification-transient-bounce.json", nil},
		{"notification-complaint.json", []consent.Feedback{{
			ID: "c3e1d2f5-5f2b-5c8f-9d3e-7b0f1a4c8d03", Kind: consent.FeedbackComplaint,
			Recipients: []string{"richard@example.com"}, At: at("2016-01-27T14:59:38.237Z"), Detail: "abuse",
		}}},
		{"notification-complaint-no-report.json", []consent.Feedback{{
			ID: "d4f2e3a6-6a3c-5d9a-8e4f-8c1a2b5d9e04", Kind: consent.FeedbackComplaint,
			Recipients: []string{"richard@example.com"}, At: at("2016-01-27T14:59:38.237Z"),
		}}},
		{"notification-delivery.json", nil},
		{"event-permanent-bounce.json", []consent.Feedback{{
			ID: "f6b4a5c8-8c5e-5f1c-8a6b-0e3c4d7f1a06", Kind: consent.FeedbackPermanentBounce,
			Recipients: []string{"recipient@example.com"}, At: at("2017-08-05T00:41:02.669Z"), Detail: "General",
		}}},
		{"event-suppressed-bounce.json", []consent.Feedback{{
			ID: "a1c5b6d9-9d6f-5a2d-9b7c-1f4d5e8a2b07", Kind: consent.FeedbackPermanentBounce,
			Recipients: []string{"recipient@example.com"}, At: at("2017-08-05T00:40:02.912Z"), Detail: "OnAccountSuppressionList",
		}}},
		{"event-transient-bounce.json", nil},
		{"event-complaint.json", []consent.Feedback{{
			ID: "c3e7d8f1-1f8b-5c4f-9d9e-3b6f7a0c4d09", Kind: consent.FeedbackComplaint,
			Recipients: []string{"recipient@example.com"}, At: at("2017-08-05T00:41:02.669Z"), Detail: "abuse",
		}}},
		{"event-complaint-suppressed.json", []consent.Feedback{{
			ID: "d4f8e9a2-2a9c-5d5a-8e0f-4c7a8b1d5e10", Kind: consent.FeedbackComplaint,
			Recipients: []string{"recipient@example.com"}, At: at("2017-08-05T00:40:02.950Z"), Detail: "OnAccountSuppressionList",
		}}},
		{"event-delivery.json", nil},
		{"event-send.json", nil},
		{"event-publishing-validation.json", nil},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			got, err := feedback.Parse(load(t, tt.fixture))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse()\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// record builds a one-record SNS event around an SES message.
func record(id, message string) events.SNSEvent {
	return events.SNSEvent{Records: []events.SNSEventRecord{{
		EventSource: "aws:sns",
		SNS: events.SNSEntity{
			MessageID: id, Type: "Notification", Message: message,
			Timestamp: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		},
	}}}
}

func TestParseEdgeCases(t *testing.T) {
	tests := []struct {
		name    string
		message string
		want    []consent.Feedback
		wantErr bool
	}{
		{
			name:    "no timestamp uses the SNS timestamp",
			message: `{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"NoEmail","bouncedRecipients":[{"emailAddress":"a@example.com"}]}}`,
			want: []consent.Feedback{{ID: "m1", Kind: consent.FeedbackPermanentBounce, Recipients: []string{"a@example.com"},
				At: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Detail: "NoEmail"}},
		},
		{
			name:    "timestamp with an offset is stored in UTC",
			message: `{"eventType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"a@example.com"}],"timestamp":"2026-03-01T13:00:00.5+01:00","complaintFeedbackType":"not-spam"}}`,
			want: []consent.Feedback{{ID: "m1", Kind: consent.FeedbackComplaint, Recipients: []string{"a@example.com"},
				At: time.Date(2026, 3, 1, 12, 0, 0, 500_000_000, time.UTC), Detail: "not-spam"}},
		},
		{
			name:    "free text in the feedback type is not kept",
			message: `{"eventType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"a@example.com"}],"timestamp":"2026-03-01T12:00:00Z","complaintFeedbackType":"reported by a@example.com"}}`,
			want: []consent.Feedback{{ID: "m1", Kind: consent.FeedbackComplaint, Recipients: []string{"a@example.com"},
				At: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Detail: "other"}},
		},
		{
			name:    "eventType wins over notificationType",
			message: `{"eventType":"Delivery","notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"a@example.com"}]}}`,
		},
		{
			name:    "undetermined bounce",
			message: `{"notificationType":"Bounce","bounce":{"bounceType":"Undetermined","bounceSubType":"Undetermined","bouncedRecipients":[{"emailAddress":"a@example.com"}],"timestamp":"2026-03-01T12:00:00Z"}}`,
		},
		{
			name:    "no recipients",
			message: `{"eventType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[],"timestamp":"2026-03-01T12:00:00Z"}}`,
		},
		{name: "other event types", message: `{"eventType":"Open","mail":{},"open":{"ipAddress":"192.0.2.1"}}`},
		{name: "JSON null", message: `null`},
		{name: "not JSON", message: `Bounce for a@example.com`, wantErr: true},
		{name: "not an object", message: `["Bounce"]`, wantErr: true},
		{name: "wrong field type", message: `{"eventType":"Bounce","bounce":{"bounceType":1}}`, wantErr: true},
		{name: "bounce object missing", message: `{"eventType":"Bounce"}`, wantErr: true},
		{name: "complaint object missing", message: `{"notificationType":"Complaint"}`, wantErr: true},
		{
			name:    "bad timestamp",
			message: `{"eventType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"a@example.com"}],"timestamp":"a@example.com"}}`,
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := feedback.Parse(record("m1", tt.message))
			if tt.wantErr {
				if !errors.Is(err, feedback.ErrMalformed) {
					t.Fatalf("Parse() error = %v, want ErrMalformed", err)
				}
				if !strings.Contains(err.Error(), "record 0") {
					t.Errorf("Parse() error = %q, want it to name record 0", err)
				}
				if strings.Contains(err.Error(), "a@example.com") || strings.Contains(err.Error(), "Bounce for") {
					t.Errorf("Parse() error = %q quotes the message", err)
				}
			} else if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse()\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseNeedsMessageID(t *testing.T) {
	_, err := feedback.Parse(record("", `{"eventType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"a@example.com"}]}}`))
	if !errors.Is(err, feedback.ErrMalformed) {
		t.Fatalf("Parse() error = %v, want ErrMalformed for a feedback without an SNS message id", err)
	}
}

// TestParseMalformedRecord: one bad record among good ones yields the good
// ones and an error naming only the bad record's index, not its content.
func TestParseMalformedRecord(t *testing.T) {
	got, err := feedback.Parse(load(t, "malformed.json"))
	if !errors.Is(err, feedback.ErrMalformed) {
		t.Fatalf("Parse() error = %v, want ErrMalformed", err)
	}
	if want := "feedback: record 1: malformed SES notification: not a JSON object of the expected shape"; err.Error() != want {
		t.Errorf("Parse() error = %q, want %q", err, want)
	}
	var ids []string
	for _, f := range got {
		ids = append(ids, f.ID)
	}
	if want := []string{"c3e7d8f1-1f8b-5c4f-9d9e-3b6f7a0c4d09", "a7cc3b86-2dd1-5e8c-9a3b-3f1b1c9c0b01"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("Parse() ids = %q, want %q", ids, want)
	}
}

// fakeRecorder records calls and fails for the ids in fail.
type fakeRecorder struct {
	got  []consent.Feedback
	fail map[string]bool
}

func (r *fakeRecorder) RecordFeedback(_ context.Context, f consent.Feedback) error {
	r.got = append(r.got, f)
	if r.fail[f.ID] {
		return errors.New("store unavailable")
	}
	return nil
}

func TestHandler(t *testing.T) {
	both := load(t, "event-complaint.json")
	both.Records = append(both.Records, load(t, "notification-permanent-bounce.json").Records...)
	both.Records = append(both.Records, load(t, "event-delivery.json").Records...)
	const complaintID, bounceID = "c3e7d8f1-1f8b-5c4f-9d9e-3b6f7a0c4d09", "a7cc3b86-2dd1-5e8c-9a3b-3f1b1c9c0b01"

	tests := []struct {
		name        string
		event       events.SNSEvent
		fail        map[string]bool
		wantIDs     []string
		wantErr     string // substring; empty means no error
		wantErrIs   error
		wantNoErrIs error
	}{
		{name: "records every feedback", event: both, wantIDs: []string{complaintID, bounceID}},
		{name: "nothing to record", event: load(t, "event-delivery.json")},
		{
			name: "a failed recording fails the event after trying the rest", event: both,
			fail: map[string]bool{complaintID: true}, wantIDs: []string{complaintID, bounceID},
			wantErr: "feedback: recording complaint " + complaintID + ": store unavailable", wantNoErrIs: feedback.ErrMalformed,
		},
		{
			name: "a malformed record fails the event after recording the rest", event: load(t, "malformed.json"),
			wantIDs: []string{complaintID, bounceID}, wantErr: "record 1", wantErrIs: feedback.ErrMalformed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &fakeRecorder{fail: tt.fail}
			err := feedback.Handler(rec)(context.Background(), tt.event)
			var ids []string
			for _, f := range rec.got {
				ids = append(ids, f.ID)
			}
			if !reflect.DeepEqual(ids, tt.wantIDs) {
				t.Errorf("recorded ids %q, want %q", ids, tt.wantIDs)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("handler error = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("handler error = %v, want one containing %q", err, tt.wantErr)
			}
			if tt.wantErrIs != nil && !errors.Is(err, tt.wantErrIs) {
				t.Errorf("handler error = %v, want errors.Is %v", err, tt.wantErrIs)
			}
			if tt.wantNoErrIs != nil && errors.Is(err, tt.wantNoErrIs) {
				t.Errorf("handler error = %v, want it not to be %v", err, tt.wantNoErrIs)
			}
		})
	}
}
