package sesmail_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/mailcheck"
	"github.com/unbundled/unbundled/shared/sesmail"
)

// fakeSES records every request and answers with out or err.
type fakeSES struct {
	calls []*sesv2.SendEmailInput
	out   *sesv2.SendEmailOutput
	err   error
}

func (f *fakeSES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	f.calls = append(f.calls, in)
	return f.out, f.err
}

func newFake() *fakeSES {
	return &fakeSES{out: &sesv2.SendEmailOutput{MessageId: aws.String("ses-id-1")}}
}

// sent is the part of a SendEmailInput the tests compare, flattened from
// the SDK's pointers.
type sent struct {
	From, Subject, Text, HTML, ConfigSet     string
	SubjectCharset, TextCharset, HTMLCharset string
	To, ReplyTo                              []string
	Headers                                  []consent.Header
}

func flatten(in *sesv2.SendEmailInput) sent {
	s := sent{
		From:      aws.ToString(in.FromEmailAddress),
		ConfigSet: aws.ToString(in.ConfigurationSetName),
		ReplyTo:   in.ReplyToAddresses,
	}
	if in.Destination != nil {
		s.To = in.Destination.ToAddresses
	}
	m := in.Content.Simple
	s.Subject, s.SubjectCharset = aws.ToString(m.Subject.Data), aws.ToString(m.Subject.Charset)
	if m.Body.Text != nil {
		s.Text, s.TextCharset = aws.ToString(m.Body.Text.Data), aws.ToString(m.Body.Text.Charset)
	}
	if m.Body.Html != nil {
		s.HTML, s.HTMLCharset = aws.ToString(m.Body.Html.Data), aws.ToString(m.Body.Html.Charset)
	}
	for _, h := range m.Headers {
		s.Headers = append(s.Headers, consent.Header{Name: aws.ToString(h.Name), Value: aws.ToString(h.Value)})
	}
	return s
}

var oneClick = []consent.Header{
	{Name: "List-Unsubscribe", Value: "<https://acme.example/unsubscribe?t=tok>"},
	{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
}

func TestSend(t *testing.T) {
	tests := []struct {
		name string
		opts sesmail.Options
		msg  consent.Message
		want sent
	}{
		{
			name: "with one-click headers and reply-to",
			msg: consent.Message{
				FromName: "Acme Books", FromEmail: "hello@acme.example", To: "reader@example.com",
				ReplyTo: "support@acme.example", Subject: "Your download: The Guide",
				Text: "Download: https://x", HTML: "<p>Download</p>", Headers: oneClick,
			},
			want: sent{
				From: `"Acme Books" <hello@acme.example>`, To: []string{"reader@example.com"},
				ReplyTo: []string{"support@acme.example"}, Subject: "Your download: The Guide",
				Text: "Download: https://x", HTML: "<p>Download</p>", Headers: oneClick,
				SubjectCharset: "UTF-8", TextCharset: "UTF-8", HTMLCharset: "UTF-8",
			},
		},
		{
			name: "without headers or reply-to",
			msg: consent.Message{
				FromName: "Acme Books", FromEmail: "hello@acme.example", To: "reader@example.com",
				Subject: "Your download", Text: "text", HTML: "<p>html</p>",
			},
			want: sent{
				From: `"Acme Books" <hello@acme.example>`, To: []string{"reader@example.com"},
				Subject: "Your download", Text: "text", HTML: "<p>html</p>",
				SubjectCharset: "UTF-8", TextCharset: "UTF-8", HTMLCharset: "UTF-8",
			},
		},
		{
			name: "non-ASCII sender name is RFC 2047 encoded, subject and body stay UTF-8",
			msg: consent.Message{
				FromName: "Zoë Café", FromEmail: "hello@acme.example", To: "reader@example.com",
				Subject: "Votre guide — été", Text: "Voilà", HTML: "<p>Voilà</p>",
			},
			want: sent{
				From: "=?utf-8?q?Zo=C3=AB_Caf=C3=A9?= <hello@acme.example>", To: []string{"reader@example.com"},
				Subject: "Votre guide — été", Text: "Voilà", HTML: "<p>Voilà</p>",
				SubjectCharset: "UTF-8", TextCharset: "UTF-8", HTMLCharset: "UTF-8",
			},
		},
		{
			name: "no display name sends the bare address",
			msg: consent.Message{
				FromEmail: "hello@acme.example", To: "reader@example.com", Subject: "s", Text: "t",
			},
			want: sent{
				From: "hello@acme.example", To: []string{"reader@example.com"},
				Subject: "s", Text: "t", SubjectCharset: "UTF-8", TextCharset: "UTF-8",
			},
		},
		{
			name: "configuration set",
			opts: sesmail.Options{ConfigurationSetName: "marketing"},
			msg: consent.Message{
				FromEmail: "hello@acme.example", To: "reader@example.com", Subject: "s", HTML: "<p>h</p>",
			},
			want: sent{
				From: "hello@acme.example", To: []string{"reader@example.com"}, ConfigSet: "marketing",
				Subject: "s", HTML: "<p>h</p>", SubjectCharset: "UTF-8", HTMLCharset: "UTF-8",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake()
			id, err := sesmail.New(fake, tt.opts).Send(context.Background(), tt.msg)
			if err != nil {
				t.Fatalf("Send() error = %v", err)
			}
			if id != "ses-id-1" {
				t.Errorf("Send() id = %q, want %q", id, "ses-id-1")
			}
			if len(fake.calls) != 1 {
				t.Fatalf("SendEmail called %d times, want 1", len(fake.calls))
			}
			if got := flatten(fake.calls[0]); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SendEmail input\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestSendRefusesInjection(t *testing.T) {
	base := consent.Message{
		FromName: "Acme", FromEmail: "hello@acme.example", To: "reader@example.com",
		Subject: "s", Text: "t", Headers: oneClick,
	}
	tests := []struct {
		name   string
		modify func(*consent.Message)
	}{
		{"CRLF in subject", func(m *consent.Message) { m.Subject = "s\r\nBcc: victim@example.com" }},
		{"LF in from name", func(m *consent.Message) { m.FromName = "Acme\nBcc: victim@example.com" }},
		{"CRLF in to", func(m *consent.Message) { m.To = "reader@example.com\r\nBcc: victim@example.com" }},
		{"NUL in reply-to", func(m *consent.Message) { m.ReplyTo = "support@acme.example\x00" }},
		{"CRLF in header value", func(m *consent.Message) {
			m.Headers = []consent.Header{{Name: "List-Unsubscribe", Value: "<https://x>\r\nBcc: victim@example.com"}}
		}},
		{"bad header name", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "Bcc:", Value: "victim@example.com"}} }},
		{"reserved header name", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "Bcc", Value: "victim@example.com"}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := base
			tt.modify(&msg)
			fake := newFake()
			id, err := sesmail.New(fake, sesmail.Options{}).Send(context.Background(), msg)
			if !errors.Is(err, mailcheck.ErrInvalidMessage) {
				t.Errorf("Send() error = %v, want ErrInvalidMessage", err)
			}
			if id != "" {
				t.Errorf("Send() id = %q, want empty", id)
			}
			if len(fake.calls) != 0 {
				t.Errorf("SendEmail called %d times, want 0", len(fake.calls))
			}
		})
	}
}

func TestSendWrapsSESErrors(t *testing.T) {
	throttled := &types.TooManyRequestsException{Message: aws.String("slow down")}
	fake := &fakeSES{err: throttled}
	msg := consent.Message{FromEmail: "hello@acme.example", To: "reader@example.com", Subject: "s", Text: "t"}

	_, err := sesmail.New(fake, sesmail.Options{}).Send(context.Background(), msg)
	var got *types.TooManyRequestsException
	if !errors.As(err, &got) {
		t.Fatalf("Send() error = %v, want it to wrap *types.TooManyRequestsException", err)
	}
	if want := "ses send email: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Send() error = %q, want prefix %q", err, want)
	}
}

func TestSendNoMessageID(t *testing.T) {
	fake := &fakeSES{out: &sesv2.SendEmailOutput{}}
	msg := consent.Message{FromEmail: "hello@acme.example", To: "reader@example.com", Subject: "s", Text: "t"}
	if _, err := sesmail.New(fake, sesmail.Options{}).Send(context.Background(), msg); err == nil {
		t.Fatal("Send() error = nil, want an error for a response without a message id")
	}
}
