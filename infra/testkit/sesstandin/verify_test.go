package sesstandin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/unbundled/unbundled/infra/testkit/sesstandin"
)

// An unverified sender is rejected for good, as SES does, until the setup
// is fixed (Verify); then the same message is accepted.
func TestRejectSendersUntilVerified(t *testing.T) {
	ctx := context.Background()
	s, client := start(t, sesstandin.Options{RejectSenders: []string{"Hello@Acme.example"}, RejectRecipients: []string{"bad@example.com"}})
	for _, to := range []string{"a@example.com", "bad@example.com"} {
		_, err := client.SendEmail(ctx, input(to)) // from "Acme" <hello@acme.example>
		var rejected *types.MessageRejected
		if !errors.As(err, &rejected) {
			t.Fatalf("send to %s from an unverified sender: got %v, want MessageRejected", to, err)
		}
	}
	s.Verify("hello@acme.example")
	if _, err := client.SendEmail(ctx, input("a@example.com")); err != nil {
		t.Fatalf("send after verifying the sender: %v", err)
	}
	var rejected *types.MessageRejected
	if _, err := client.SendEmail(ctx, input("bad@example.com")); !errors.As(err, &rejected) {
		t.Errorf("a rejected recipient after verifying the sender: got %v, want MessageRejected", err)
	}
	s.Verify("BAD@example.com")
	if _, err := client.SendEmail(ctx, input("bad@example.com")); err != nil {
		t.Errorf("send after verifying the recipient: %v", err)
	}
	st := s.Stats()
	if st.Rejected != 3 || st.Accepted != 2 || len(s.Sent()) != 2 {
		t.Errorf("stats: got %+v, want 3 rejected and 2 accepted", st)
	}
}
