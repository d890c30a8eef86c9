package sesstandin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/unbundled/unbundled/infra/testkit/sesstandin"
)

// newClient is an SES v2 client for srv with SDK retries off, so every
// Send is exactly one HTTP call.
func newClient(url string) *sesv2.Client {
	cfg := aws.Config{
		Region: "eu-west-2",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		}),
	}
	return sesv2.NewFromConfig(cfg, func(o *sesv2.Options) {
		o.BaseEndpoint = aws.String(url)
		o.RetryMaxAttempts = 1
	})
}

func start(t *testing.T, opts sesstandin.Options) (*sesstandin.Server, *sesv2.Client) {
	t.Helper()
	s := sesstandin.New(opts)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, newClient(srv.URL)
}

func input(to string) *sesv2.SendEmailInput {
	return &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(`"Acme" <hello@acme.example>`),
		Destination:      &types.Destination{ToAddresses: []string{to}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String("Your download"), Charset: aws.String("UTF-8")},
			Body: &types.Body{
				Text: &types.Content{Data: aws.String("text body"), Charset: aws.String("UTF-8")},
				Html: &types.Content{Data: aws.String("<p>html body</p>"), Charset: aws.String("UTF-8")},
			},
			Headers: []types.MessageHeader{
				{Name: aws.String("List-Unsubscribe"), Value: aws.String("<https://acme.example/u?t=1>")},
				{Name: aws.String("List-Unsubscribe-Post"), Value: aws.String("List-Unsubscribe=One-Click")},
			},
		}},
	}
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestWireErrorShapes checks the raw HTTP answers: status, the
// X-Amzn-Errortype header and the {"message": ...} body SES v2 uses.
func TestWireErrorShapes(t *testing.T) {
	const valid = `{"FromEmailAddress":"hello@acme.example","Destination":{"ToAddresses":["%s"]},
		"Content":{"Simple":{"Subject":{"Data":"s"},"Body":{"Text":{"Data":"t"}}}}}`
	tests := []struct {
		name        string
		opts        sesstandin.Options
		calls       int // identical calls made; the last one is checked
		body        string
		wantStatus  int
		wantType    string
		wantMessage string
	}{
		{"accepted", sesstandin.Options{}, 1, fmt.Sprintf(valid, "a@example.com"), 200, "", ""},
		{"throttled", sesstandin.Options{MaxPerSecond: 1, Now: (&clock{now: time.Unix(0, 0)}).Now}, 2, fmt.Sprintf(valid, "a@example.com"),
			429, "TooManyRequestsException", "Maximum sending rate exceeded."},
		{"transient failure", sesstandin.Options{FailEvery: 2}, 2, fmt.Sprintf(valid, "a@example.com"),
			500, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure."},
		{"rejected recipient", sesstandin.Options{RejectRecipients: []string{"Bad@Example.com"}}, 1, fmt.Sprintf(valid, "bad@example.com"),
			400, "MessageRejected", "Email address is not verified. The following identities failed the check in region US-EAST-1: bad@example.com"},
		{"not JSON", sesstandin.Options{}, 1, `{`, 400, "BadRequestException", "the request body is not a valid SendEmail JSON document"},
		{"no destination", sesstandin.Options{}, 1, `{"FromEmailAddress":"a@b.example","Content":{"Simple":{}}}`,
			400, "BadRequestException", "at least one destination address is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(sesstandin.New(tt.opts).Handler())
			defer srv.Close()
			var resp *http.Response
			for range tt.calls {
				if resp != nil {
					resp.Body.Close()
				}
				var err error
				resp, err = http.Post(srv.URL+sesstandin.SendEmailPath, "application/json", strings.NewReader(tt.body))
				if err != nil {
					t.Fatal(err)
				}
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := resp.Header.Get("X-Amzn-Errortype"); got != tt.wantType {
				t.Errorf("X-Amzn-Errortype = %q, want %q", got, tt.wantType)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			var body map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("body is not JSON: %v", err)
			}
			if tt.wantStatus == 200 {
				if body["MessageId"] == "" {
					t.Errorf("body = %v, want a MessageId", body)
				}
				return
			}
			if want := map[string]string{"message": tt.wantMessage}; !reflect.DeepEqual(body, want) {
				t.Errorf("body = %v, want %v", body, want)
			}
		})
	}
}

// TestSDKDecodesErrors proves the shapes above are what the AWS SDK for Go
// turns into SES's typed errors, through a real client over HTTP.
func TestSDKDecodesErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		opts       sesstandin.Options
		calls      int
		in         *sesv2.SendEmailInput
		wantStatus int
		check      func(error) bool
		wantCode   string
	}{
		{
			name: "429 is TooManyRequestsException", calls: 2, in: input("a@example.com"), wantStatus: 429,
			opts:     sesstandin.Options{MaxPerSecond: 1, Now: (&clock{now: time.Unix(0, 0)}).Now},
			check:    func(err error) bool { var e *types.TooManyRequestsException; return errors.As(err, &e) },
			wantCode: "TooManyRequestsException",
		},
		{
			name: "MessageRejected", calls: 1, in: input("bad@example.com"), wantStatus: 400,
			opts:     sesstandin.Options{RejectRecipients: []string{"bad@example.com"}},
			check:    func(err error) bool { var e *types.MessageRejected; return errors.As(err, &e) },
			wantCode: "MessageRejected",
		},
		{
			name: "500 InternalFailure is a generic API error", calls: 1, in: input("a@example.com"), wantStatus: 500,
			opts:     sesstandin.Options{FailEvery: 1},
			check:    func(err error) bool { var e *smithy.GenericAPIError; return errors.As(err, &e) },
			wantCode: "InternalFailure",
		},
		{
			name: "raw content is BadRequestException", calls: 1, wantStatus: 400,
			in: &sesv2.SendEmailInput{
				Destination: &types.Destination{ToAddresses: []string{"a@example.com"}},
				Content:     &types.EmailContent{Raw: &types.RawMessage{Data: []byte("From: a@example.com\r\n\r\nhi")}},
			},
			check:    func(err error) bool { var e *types.BadRequestException; return errors.As(err, &e) },
			wantCode: "BadRequestException",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, client := start(t, tt.opts)
			var err error
			for range tt.calls {
				_, err = client.SendEmail(ctx, tt.in)
			}
			if err == nil || !tt.check(err) {
				t.Fatalf("SendEmail error = %v (%T), want the typed error for %s", err, err, tt.wantCode)
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.wantCode {
				t.Errorf("error code = %v, want %s", apiErr, tt.wantCode)
			}
			var resp *smithyhttp.ResponseError
			if !errors.As(err, &resp) || resp.HTTPStatusCode() != tt.wantStatus {
				t.Errorf("HTTP status of %v, want %d", err, tt.wantStatus)
			}
			if got := len(s.Sent()); got != tt.calls-1 {
				t.Errorf("recorded %d messages, want %d", got, tt.calls-1)
			}
		})
	}
}

func TestRecordsAcceptedMessages(t *testing.T) {
	s, client := start(t, sesstandin.Options{})
	ctx := context.Background()
	in := input("reader@example.com")
	in.ReplyToAddresses = []string{"support@acme.example"}
	in.ConfigurationSetName = aws.String("marketing")
	var ids []string
	for _, to := range []string{"reader@example.com", "other@example.com", "reader@example.com"} {
		in.Destination.ToAddresses = []string{to}
		out, err := client.SendEmail(ctx, in)
		if err != nil {
			t.Fatalf("SendEmail(%s) error = %v", to, err)
		}
		ids = append(ids, aws.ToString(out.MessageId))
	}

	sent := s.Sent()
	if len(sent) != 3 {
		t.Fatalf("Sent() has %d messages, want 3", len(sent))
	}
	first := sent[0]
	first.At = time.Time{}
	want := sesstandin.Message{
		ID: ids[0], From: `"Acme" <hello@acme.example>`, To: []string{"reader@example.com"},
		ReplyTo: []string{"support@acme.example"}, Subject: "Your download", Text: "text body", HTML: "<p>html body</p>",
		Headers: []sesstandin.Header{
			{Name: "List-Unsubscribe", Value: "<https://acme.example/u?t=1>"},
			{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
		},
		ConfigurationSet: "marketing",
	}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("Sent()[0]\n got %+v\nwant %+v", first, want)
	}
	if v, ok := first.Header("list-unsubscribe-post"); !ok || v != "List-Unsubscribe=One-Click" {
		t.Errorf(`Header("list-unsubscribe-post") = %q, %v, want the one-click value`, v, ok)
	}
	for i, m := range sent {
		if m.ID != ids[i] {
			t.Errorf("Sent()[%d].ID = %q, want the MessageId SES returned, %q", i, m.ID, ids[i])
		}
	}
	wantStats := sesstandin.Stats{Accepted: 3, PerRecipient: map[string]int{"reader@example.com": 2, "other@example.com": 1}}
	if got := s.Stats(); !reflect.DeepEqual(got, wantStats) {
		t.Errorf("Stats() = %+v, want %+v", got, wantStats)
	}
}

// TestRateLimit drives the token bucket with a test clock: a burst of
// ceil(MaxPerSecond), then one call per 1/MaxPerSecond.
func TestRateLimit(t *testing.T) {
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s, client := start(t, sesstandin.Options{MaxPerSecond: 2, Now: clk.Now})
	ctx := context.Background()
	steps := []struct {
		advance time.Duration
		wantOK  bool
	}{
		{0, true}, {0, true}, {0, false}, // burst of 2, then throttled
		{250 * time.Millisecond, false}, // half a token
		{250 * time.Millisecond, true},  // one token after 500ms
		{0, false},
		{10 * time.Second, true}, {0, true}, {0, false}, // refills only up to the burst
	}
	for i, st := range steps {
		clk.Add(st.advance)
		_, err := client.SendEmail(ctx, input(fmt.Sprintf("r%d@example.com", i)))
		var throttled *types.TooManyRequestsException
		if st.wantOK && err != nil {
			t.Fatalf("step %d: error = %v, want accepted", i, err)
		}
		if !st.wantOK && !errors.As(err, &throttled) {
			t.Fatalf("step %d: error = %v, want TooManyRequestsException", i, err)
		}
	}
	if got := s.Stats(); got.Accepted != 5 || got.Throttled != 4 {
		t.Errorf("Stats() accepted %d throttled %d, want 5 and 4", got.Accepted, got.Throttled)
	}
}

func TestFailEvery(t *testing.T) {
	s, client := start(t, sesstandin.Options{FailEvery: 3})
	ctx := context.Background()
	var got []bool
	for i := range 7 {
		_, err := client.SendEmail(ctx, input(fmt.Sprintf("r%d@example.com", i)))
		got = append(got, err == nil)
	}
	want := []bool{true, true, false, true, true, false, true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("accepted = %v, want %v", got, want)
	}
	if st := s.Stats(); st.Accepted != 5 || st.Failed != 2 || len(s.Sent()) != 5 {
		t.Errorf("Stats() = %+v, Sent() %d, want 5 accepted and recorded, 2 failed", st, len(s.Sent()))
	}
}

// TestConcurrentSends is a small load test: under -race, every call is
// answered and counted exactly once.
func TestConcurrentSends(t *testing.T) {
	s, client := start(t, sesstandin.Options{FailEvery: 10, RejectRecipients: []string{"r0@example.com"}})
	ctx := context.Background()
	const workers, each = 8, 25
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				_, _ = client.SendEmail(ctx, input(fmt.Sprintf("r%d@example.com", (w*each+i)%50)))
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	if total := st.Accepted + st.Failed + st.Rejected; total != workers*each {
		t.Errorf("accepted %d + failed %d + rejected %d = %d, want %d", st.Accepted, st.Failed, st.Rejected, total, workers*each)
	}
	if st.Failed != workers*each/10 {
		t.Errorf("failed = %d, want every 10th of %d calls", st.Failed, workers*each)
	}
	perRecipient := 0
	for _, n := range st.PerRecipient {
		perRecipient += n
	}
	if perRecipient != st.Accepted || len(s.Sent()) != st.Accepted {
		t.Errorf("per-recipient total %d, Sent() %d, want both = accepted %d", perRecipient, len(s.Sent()), st.Accepted)
	}
	if st.PerRecipient["r0@example.com"] != 0 {
		t.Errorf("rejected recipient was accepted %d times", st.PerRecipient["r0@example.com"])
	}
}
