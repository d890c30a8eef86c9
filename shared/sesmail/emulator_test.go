package sesmail_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/mail"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/unbundled/unbundled/infra/testkit/emulators"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/mailcheck"
	"github.com/unbundled/unbundled/shared/sesmail"
)

// sesEndpoint is the aws-ses-v2-local started by TestMain; empty under -short.
var sesEndpoint string

// TestMain starts the SES v2 emulator once for the package and points the
// standard AWS environment at it, so the integration test builds its client
// exactly as a Lambda main does. If the emulator cannot start, the whole
// package fails (it is never skipped). `go test -short` runs only the unit
// tests and does not start it.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(runWithEmulator(m))
}

func runWithEmulator(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), emulators.StartTimeout+10*time.Second)
	defer cancel()
	proc, err := emulators.StartSES(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: start the SES v2 emulator: %v\n", err)
		return 1
	}
	for name, value := range emulators.AWSEnv("", proc.Endpoint) {
		if err := os.Setenv(name, value); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: set %s: %v\n", name, err)
			proc.Stop()
			return 1
		}
	}
	sesEndpoint = proc.Endpoint
	code := m.Run()
	if err := proc.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: stop the SES v2 emulator: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// TestSendThroughEmulator sends a freebie-like message with the RFC 8058
// one-click headers and one without through a real SDK client, then reads
// what aws-ses-v2-local recorded. Its GET /store exposes, per email, the
// custom Content.Simple.Headers (name and value as sent, key absent when
// none) but not From/To/Subject as headers, so those are checked through its
// from/destination/subject fields.
func TestSendThroughEmulator(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the SES v2 emulator is not started")
	}
	ctx := context.Background()
	if err := emulators.ClearSESStore(ctx, sesEndpoint); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatalf("load AWS config: %v", err)
	}
	mailer := sesmail.New(sesv2.NewFromConfig(cfg), sesmail.Options{})

	oneClick := []consent.Header{
		{Name: "List-Unsubscribe", Value: "<http://localhost:8080/unsubscribe?t=v1.abc.def>"},
		{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
	}
	withConsent := consent.Message{
		FromName: "Zoë's Books", FromEmail: "hello@acme.example", To: "reader@example.com",
		ReplyTo: "support@acme.example", Subject: "Your download: Café guide",
		Text:    "Download: http://localhost:8080/dl/guide.pdf\nUnsubscribe: http://localhost:8080/unsubscribe?t=v1.abc.def",
		HTML:    `<p><a href="http://localhost:8080/dl/guide.pdf">Download</a></p>`,
		Headers: oneClick,
	}
	withoutConsent := consent.Message{
		FromName: "Acme Books", FromEmail: "hello@acme.example", To: "other@example.com",
		Subject: "Your download: The Guide",
		Text:    "Download: http://localhost:8080/dl/guide.pdf",
		HTML:    `<p><a href="http://localhost:8080/dl/guide.pdf">Download</a></p>`,
	}
	firstID, err := mailer.Send(ctx, withConsent)
	if err != nil {
		t.Fatalf("Send(with consent) error = %v", err)
	}
	secondID, err := mailer.Send(ctx, withoutConsent)
	if err != nil {
		t.Fatalf("Send(without consent) error = %v", err)
	}
	injected := withoutConsent
	injected.Subject = "Hi\r\nBcc: victim@example.com"
	if _, err := mailer.Send(ctx, injected); !errors.Is(err, mailcheck.ErrInvalidMessage) {
		t.Fatalf("Send(injected subject) error = %v, want ErrInvalidMessage", err)
	}

	stored, err := emulators.SESStore(ctx, sesEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 2 {
		t.Fatalf("emulator recorded %d emails, want 2 (the injected one must never reach SES)", len(stored))
	}
	first, second := stored[0], stored[1]
	if first.MessageID != firstID || second.MessageID != secondID {
		t.Fatalf("recorded ids %q, %q, want %q, %q", first.MessageID, second.MessageID, firstID, secondID)
	}

	checkRecorded(t, first, withConsent, []string{"support@acme.example"})
	checkRecorded(t, second, withoutConsent, nil)

	var got []consent.Header
	for _, h := range first.Headers {
		got = append(got, consent.Header{Name: h.Name, Value: h.Value})
	}
	if !reflect.DeepEqual(got, oneClick) {
		t.Errorf("first email headers = %q, want %q", got, oneClick)
	}
	if len(second.Headers) != 0 {
		t.Errorf("second email headers = %q, want none", second.Headers)
	}
	for _, name := range []string{"List-Unsubscribe", "List-Unsubscribe-Post"} {
		if v, ok := second.Header(name); ok {
			t.Errorf("second email has %s: %q, want it absent without consent", name, v)
		}
	}
}

// checkRecorded compares what the emulator recorded with the message sent.
func checkRecorded(t *testing.T, got emulators.SESMessage, sent consent.Message, wantReplyTo []string) {
	t.Helper()
	from, err := mail.ParseAddress(got.From)
	if err != nil {
		t.Errorf("from %q is not an RFC 5322 mailbox: %v", got.From, err)
	} else if from.Name != sent.FromName || from.Address != sent.FromEmail {
		t.Errorf("from decodes to name %q address %q, want %q %q", from.Name, from.Address, sent.FromName, sent.FromEmail)
	}
	if !reflect.DeepEqual(got.Destination.To, []string{sent.To}) {
		t.Errorf("to = %q, want [%q]", got.Destination.To, sent.To)
	}
	if len(got.Destination.Cc) != 0 || len(got.Destination.Bcc) != 0 {
		t.Errorf("cc = %q, bcc = %q, want none", got.Destination.Cc, got.Destination.Bcc)
	}
	if len(got.ReplyTo) != 0 || len(wantReplyTo) != 0 {
		if !reflect.DeepEqual(got.ReplyTo, wantReplyTo) {
			t.Errorf("reply-to = %q, want %q", got.ReplyTo, wantReplyTo)
		}
	}
	if got.Subject != sent.Subject {
		t.Errorf("subject = %q, want %q", got.Subject, sent.Subject)
	}
	if got.Body.Text != sent.Text {
		t.Errorf("text = %q, want %q", got.Body.Text, sent.Text)
	}
	if got.Body.HTML != sent.HTML {
		t.Errorf("html = %q, want %q", got.Body.HTML, sent.HTML)
	}
}
