// Package sesmail sends consent.Messages through Amazon SES (API v2).
//
// The SES client is injected (see API); this package never loads AWS
// configuration. Every message passes mailcheck.Check first, so a line
// break or NUL in a subject, address or header is refused before anything
// reaches SES.
package sesmail

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

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
// mailcheck.ErrInvalidMessage. SES errors are returned wrapped, so callers
// can match them with errors.As (for example *types.TooManyRequestsException
// when throttled).
func (m *Mailer) Send(ctx context.Context, msg consent.Message) (string, error) {
	if err := mailcheck.Check(msg); err != nil {
		return "", fmt.Errorf("ses send email: %w", err)
	}
	out, err := m.client.SendEmail(ctx, m.input(msg))
	if err != nil {
		return "", fmt.Errorf("ses send email: %w", err)
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
