package sesmail_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/unbundled/unbundled/infra/testkit/sesstandin"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/sesmail"
)

// sdkError wraps apiErr the way the SDK returns an SES error response:
// OperationError → awshttp.ResponseError → smithyhttp.ResponseError → the
// deserialized error.
func sdkError(status int, apiErr error) error {
	return &smithy.OperationError{
		ServiceID:     "SESv2",
		OperationName: "SendEmail",
		Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
				Err:      apiErr,
			},
			RequestID: "req-1",
		},
	}
}

// secret is in every SES error message below; it must never reach the
// returned error's text.
const secret = "reader@example.com"

func msgText(s string) *string { return aws.String(s + ": " + secret) }

func TestSendClassifiesSESErrors(t *testing.T) {
	const (
		throttled = "mail provider throttled or unavailable: "
		rejected  = "mail provider rejected the message: "
	)
	tests := []struct {
		name      string
		err       error
		want      error // consent.ErrThrottled, consent.ErrRejected or nil
		wantText  string
		wantIsCtx bool
	}{
		{"TooManyRequestsException", sdkError(429, &types.TooManyRequestsException{Message: msgText("Maximum sending rate exceeded.")}),
			consent.ErrThrottled, throttled + "SES TooManyRequestsException (HTTP 429, request id req-1)", false},
		{"LimitExceededException", sdkError(400, &types.LimitExceededException{Message: msgText("limit")}),
			consent.ErrThrottled, throttled + "SES LimitExceededException (HTTP 400, request id req-1)", false},
		{"SendingPausedException", sdkError(400, &types.SendingPausedException{Message: msgText("paused")}),
			consent.ErrThrottled, throttled + "SES SendingPausedException (HTTP 400, request id req-1)", false},
		{"unmodelled 429", sdkError(429, &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded: " + secret}),
			consent.ErrThrottled, throttled + "SES Throttling (HTTP 429, request id req-1)", false},
		{"500 InternalFailure", sdkError(500, &smithy.GenericAPIError{Code: "InternalFailure", Message: secret}),
			consent.ErrThrottled, throttled + "SES InternalFailure (HTTP 500, request id req-1)", false},
		{"503 ServiceUnavailable", sdkError(503, &smithy.GenericAPIError{Code: "ServiceUnavailable"}),
			consent.ErrThrottled, throttled + "SES ServiceUnavailable (HTTP 503, request id req-1)", false},
		{"MessageRejected", sdkError(400, &types.MessageRejected{Message: msgText("Email address is not verified")}),
			consent.ErrRejected, rejected + "SES MessageRejected (HTTP 400, request id req-1)", false},
		{"MailFromDomainNotVerifiedException", sdkError(400, &types.MailFromDomainNotVerifiedException{Message: msgText("mail from")}),
			consent.ErrRejected, rejected + "SES MailFromDomainNotVerifiedException (HTTP 400, request id req-1)", false},
		{"BadRequestException (invalid address)", sdkError(400, &types.BadRequestException{Message: msgText("Illegal address")}),
			consent.ErrRejected, rejected + "SES BadRequestException (HTTP 400, request id req-1)", false},
		{"typed error without a response", &types.TooManyRequestsException{Message: msgText("slow down")},
			consent.ErrThrottled, throttled + "SES TooManyRequestsException", false},
		{"AccountSuspendedException is neither", sdkError(400, &types.AccountSuspendedException{Message: msgText("suspended")}),
			nil, "SES AccountSuspendedException (HTTP 400, request id req-1)", false},
		{"NotFoundException is neither", sdkError(404, &types.NotFoundException{Message: msgText("no such configuration set")}),
			nil, "SES NotFoundException (HTTP 404, request id req-1)", false},
		{"403 is neither", sdkError(403, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: secret}),
			nil, "SES AccessDeniedException (HTTP 403, request id req-1)", false},
		{"network error is neither", &smithy.OperationError{ServiceID: "SESv2", OperationName: "SendEmail", Err: errors.New("dial tcp: connection refused")},
			nil, "operation error SESv2: SendEmail, dial tcp: connection refused", false},
		{"deadline is neither", &smithy.OperationError{ServiceID: "SESv2", OperationName: "SendEmail", Err: context.DeadlineExceeded},
			nil, "operation error SESv2: SendEmail, context deadline exceeded", true},
	}
	msg := consent.Message{FromEmail: "hello@acme.example", To: secret, Subject: "s", Text: "t"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sesmail.New(&fakeSES{err: tt.err}, sesmail.Options{}).Send(context.Background(), msg)
			if err == nil {
				t.Fatal("Send() error = nil")
			}
			if got, want := errors.Is(err, consent.ErrThrottled), tt.want == consent.ErrThrottled; got != want {
				t.Errorf("errors.Is(%v, ErrThrottled) = %v, want %v", err, got, want)
			}
			if got, want := errors.Is(err, consent.ErrRejected), tt.want == consent.ErrRejected; got != want {
				t.Errorf("errors.Is(%v, ErrRejected) = %v, want %v", err, got, want)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("errors.Is(err, the SDK error) = false, want the SDK error kept in the chain")
			}
			if errors.Is(err, context.DeadlineExceeded) != tt.wantIsCtx {
				t.Errorf("errors.Is(err, context.DeadlineExceeded) = %v, want %v", !tt.wantIsCtx, tt.wantIsCtx)
			}
			if want := "ses send email: " + tt.wantText; err.Error() != want {
				t.Errorf("Error() = %q, want %q", err, want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Error() = %q quotes the SES message's address", err)
			}
		})
	}
}

// fixedClock keeps the stand-in's token bucket from refilling.
type fixedClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fixedClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// TestSendThroughStandIn sends through a real SDK client over HTTP to the
// SES stand-in: its 429 becomes ErrThrottled, its 500 ErrThrottled and its
// MessageRejected ErrRejected, each after exactly one HTTP call because the
// client is built as the deliverer's main must build it (RetryMaxAttempts
// 1).
func TestSendThroughStandIn(t *testing.T) {
	tests := []struct {
		name     string
		opts     sesstandin.Options
		to       string
		calls    int
		want     error
		wantType any
		wantCode string
	}{
		{"429 → ErrThrottled", sesstandin.Options{MaxPerSecond: 1, Now: (&fixedClock{now: time.Unix(0, 0)}).Now},
			"reader@example.com", 2, consent.ErrThrottled, new(*types.TooManyRequestsException), "TooManyRequestsException"},
		{"500 → ErrThrottled", sesstandin.Options{FailEvery: 2},
			"reader@example.com", 2, consent.ErrThrottled, new(*smithy.GenericAPIError), "InternalFailure"},
		{"MessageRejected → ErrRejected", sesstandin.Options{RejectRecipients: []string{"bad@example.com"}},
			"bad@example.com", 1, consent.ErrRejected, new(*types.MessageRejected), "MessageRejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			standin := sesstandin.New(tt.opts)
			srv := httptest.NewServer(standin.Handler())
			defer srv.Close()
			cfg := aws.Config{Region: "eu-west-2", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
			})}
			client := sesv2.NewFromConfig(cfg, func(o *sesv2.Options) {
				o.BaseEndpoint = aws.String(srv.URL)
				o.RetryMaxAttempts = 1
			})
			mailer := sesmail.New(client, sesmail.Options{})
			msg := consent.Message{FromEmail: "hello@acme.example", To: tt.to, Subject: "s", Text: "t"}

			var err error
			for i := range tt.calls {
				if _, err = mailer.Send(context.Background(), msg); i < tt.calls-1 && err != nil {
					t.Fatalf("call %d: Send() error = %v, want accepted", i+1, err)
				}
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Send() error = %v, want errors.Is %v", err, tt.want)
			}
			if !errors.As(err, tt.wantType) {
				t.Errorf("Send() error = %v, want errors.As %T", err, tt.wantType)
			}
			if !strings.Contains(err.Error(), "SES "+tt.wantCode+" (HTTP ") {
				t.Errorf("Error() = %q, want the code %s and the HTTP status", err, tt.wantCode)
			}
			if strings.Contains(err.Error(), tt.to) {
				t.Errorf("Error() = %q quotes the recipient", err)
			}
			st := standin.Stats()
			if calls := st.Accepted + st.Throttled + st.Failed + st.Rejected + st.BadRequests; calls != tt.calls {
				t.Errorf("stand-in saw %d calls, want %d (SDK retries must be off)", calls, tt.calls)
			}
		})
	}
}

func ExampleMailer_Send_classification() {
	fake := &fakeSES{err: sdkError(429, &types.TooManyRequestsException{Message: aws.String("Maximum sending rate exceeded.")})}
	_, err := sesmail.New(fake, sesmail.Options{}).Send(context.Background(),
		consent.Message{FromEmail: "hello@acme.example", To: "reader@example.com", Subject: "s", Text: "t"})
	fmt.Println(errors.Is(err, consent.ErrThrottled))
	fmt.Println(err)
	// Output:
	// true
	// ses send email: mail provider throttled or unavailable: SES TooManyRequestsException (HTTP 429, request id req-1)
}
