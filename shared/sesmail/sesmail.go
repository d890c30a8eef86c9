// Package sesmail sends consent.Messages through Amazon SES (API v2).
//
// The SES client is injected (see API); this package never loads AWS
// configuration. Every message passes mailcheck.Check first, so a line
// break or NUL in a subject, address or header is refused before anything
// reaches SES.
//
// Send classifies SES failures for the delivery logic: the error wraps
// consent.ErrThrottled when SES asked us to slow down or failed
// transiently, and consent.ErrRejected when it refused the message for
// good (see Send). The SDK error stays in the chain for errors.As.
//
// The SDK's own retryer must not hide throttling: with its defaults a
// throttled SendEmail is attempted up to three times with jittered backoff
// inside one Send call, which holds a delivery lease and hides the
// back-pressure from our own backoff. This package configures nothing (the
// client is injected), so the main that builds the deliverer's client
// should turn SDK retries off:
//
//	client := sesv2.NewFromConfig(cfg, func(o *sesv2.Options) { o.RetryMaxAttempts = 1 })
package sesmail

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/mailcheck"
)

// API is the part of the SES v2 client this package uses; *sesv2.Client
// satisfies it, and tests pass a hand-written fake.
type API interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Options tunes how messages are sent.
type Options struct {
	// ConfigurationSetName, when set, names the SES configuration set used
	// for every message (event publishing, dedicated IPs, ...).
	ConfigurationSetName string
}

// charset is declared on the subject and both body parts.
const charset = "UTF-8"

// Mailer is a consent.Mailer backed by Amazon SES.
type Mailer struct {
	client API
	opts   Options
}

var _ consent.Mailer = (*Mailer)(nil)

// New returns a Mailer that sends through client.
func New(client API, opts Options) *Mailer {
	return &Mailer{client: client, opts: opts}
}

// Send sends msg as a simple SES message: the subject, text and HTML parts
// in UTF-8, msg.Headers as extra headers, From as an RFC 5322 mailbox (a
// non-ASCII display name is RFC 2047-encoded), Reply-To when set and one To
// recipient. It returns the SES message id.
//
// A message that fails mailcheck.Check is not sent; the error wraps
// mailcheck.ErrInvalidMessage.
//
// An SES error is returned wrapped, so errors.As still finds the SDK's
// error (for example *types.TooManyRequestsException), and classified:
//
//   - consent.ErrThrottled for TooManyRequestsException,
//     LimitExceededException, SendingPausedException (sending is paused for
//     the account or configuration set: nothing is wrong with this message,
//     so it waits rather than fails), and any other response with HTTP
//     status 429 or 5xx;
//   - consent.ErrRejected for MessageRejected,
//     MailFromDomainNotVerifiedException and BadRequestException (for
//     example an invalid address);
//   - neither for anything else (AccountSuspendedException,
//     NotFoundException, network errors, a cancelled context), which the
//     caller treats as transient within bounds.
//
// The error text names the SES error code, HTTP status and request id but
// never the SES error message, which can quote addresses (a sandbox
// MessageRejected lists the unverified recipient), so it is safe to log or
// store as a job's reason.
func (m *Mailer) Send(ctx context.Context, msg consent.Message) (string, error) {
	if err := mailcheck.Check(msg); err != nil {
		return "", fmt.Errorf("ses send email: %w", err)
	}
	out, err := m.client.SendEmail(ctx, m.input(msg))
	if err != nil {
		return "", &sendError{kind: classify(err), err: err}
	}
	if out == nil || aws.ToString(out.MessageId) == "" {
		return "", errors.New("ses send email: response has no message id")
	}
	return *out.MessageId, nil
}

// input builds the SendEmail request for a checked message.
func (m *Mailer) input(msg consent.Message) *sesv2.SendEmailInput {
	body := &types.Body{}
	if msg.Text != "" {
		body.Text = &types.Content{Data: aws.String(msg.Text), Charset: aws.String(charset)}
	}
	if msg.HTML != "" {
		body.Html = &types.Content{Data: aws.String(msg.HTML), Charset: aws.String(charset)}
	}
	var headers []types.MessageHeader
	for _, h := range msg.Headers {
		headers = append(headers, types.MessageHeader{Name: aws.String(h.Name), Value: aws.String(h.Value)})
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(mailcheck.From(msg)),
		Destination:      &types.Destination{ToAddresses: []string{msg.To}},
		Content: &types.EmailContent{
			Simple: &types.Message{
				Subject: &types.Content{Data: aws.String(msg.Subject), Charset: aws.String(charset)},
				Body:    body,
				Headers: headers,
			},
		},
	}
	if msg.ReplyTo != "" {
		in.ReplyToAddresses = []string{msg.ReplyTo}
	}
	if m.opts.ConfigurationSetName != "" {
		in.ConfigurationSetName = aws.String(m.opts.ConfigurationSetName)
	}
	return in
}

// classify returns consent.ErrThrottled or consent.ErrRejected for the SES
// errors the delivery logic acts on, and nil for any other error.
func classify(err error) error {
	var (
		tooMany    *types.TooManyRequestsException
		limit      *types.LimitExceededException
		paused     *types.SendingPausedException
		rejected   *types.MessageRejected
		mailFrom   *types.MailFromDomainNotVerifiedException
		badRequest *types.BadRequestException
	)
	switch {
	case errors.As(err, &tooMany), errors.As(err, &limit), errors.As(err, &paused):
		return consent.ErrThrottled
	case errors.As(err, &rejected), errors.As(err, &mailFrom), errors.As(err, &badRequest):
		return consent.ErrRejected
	}
	if status := httpStatus(err); status == http.StatusTooManyRequests || status >= 500 {
		return consent.ErrThrottled
	}
	return nil
}

// httpStatus is the status of the HTTP response err came from, or 0 when
// there was none (e.g. a network error). *awshttp.ResponseError, which the
// SDK returns, yields its embedded *smithyhttp.ResponseError to errors.As.
func httpStatus(err error) int {
	var resp *smithyhttp.ResponseError
	if !errors.As(err, &resp) || resp.Response == nil || resp.Response.Response == nil {
		return 0
	}
	return resp.HTTPStatusCode()
}

// sendError is a failed SendEmail call: the SDK error, classified.
type sendError struct {
	kind error // consent.ErrThrottled, consent.ErrRejected or nil
	err  error // as the SES client returned it
}

// Error names the classification, the SES error code, HTTP status and
// request id, leaving out the SES error message (it can hold addresses).
func (e *sendError) Error() string {
	var b strings.Builder
	b.WriteString("ses send email: ")
	if e.kind != nil {
		b.WriteString(e.kind.Error())
		b.WriteString(": ")
	}
	var apiErr smithy.APIError
	if !errors.As(e.err, &apiErr) {
		b.WriteString(e.err.Error()) // no SES response: network, context or SDK error
		return b.String()
	}
	b.WriteString("SES ")
	b.WriteString(apiErr.ErrorCode())
	var details []string
	if status := httpStatus(e.err); status != 0 {
		details = append(details, fmt.Sprintf("HTTP %d", status))
	}
	var withID interface{ ServiceRequestID() string }
	if errors.As(e.err, &withID) && withID.ServiceRequestID() != "" {
		details = append(details, "request id "+withID.ServiceRequestID())
	}
	if len(details) > 0 {
		b.WriteString(" (" + strings.Join(details, ", ") + ")")
	}
	return b.String()
}

// Unwrap lets errors.Is find the classification and errors.As the SDK
// error.
func (e *sendError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.err}
	}
	return []error{e.kind, e.err}
}
