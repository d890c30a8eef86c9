package main_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/infra/testkit/sesstandin"
	"github.com/unbundled/unbundled/shared/consent"
)

// TestJobsRetryRecoversAPermanentlyRejectedFreebie runs the local server
// with the real SES adapter against the SES stand-in while the sender
// identity is not verified, so SES rejects the freebie for good and the
// job ends failed. Once the identity is verified (the SES setup fixed),
// `unbundled jobs retry -all-failed` sends it again: the freebie arrives
// exactly once and the ledger still holds one sign-up.
func TestJobsRetryRecoversAPermanentlyRejectedFreebie(t *testing.T) {
	standin := sesstandin.New(sesstandin.Options{RejectSenders: []string{"hello@example.com"}})
	ses := httptest.NewServer(standin.Handler())
	defer ses.Close()
	for k, v := range map[string]string{
		"AWS_REGION": "eu-west-2", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_ENDPOINT_URL_SESV2": ses.URL, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	s := start(t, dir, "-mailer", "ses")
	// operator runs `unbundled` on this server's data: the command's
	// words (one, or two for "jobs list"), its flags, then its operands.
	operator := func(args ...string) string {
		t.Helper()
		words := 1
		if args[0] == "jobs" {
			words = 2
		}
		full := append(append([]string{}, args[:words]...), "-data", dir, "-magnets", "magnets.json")
		return cli(t, append(full, args[words:]...)...)
	}
	failedJobs := func() []consent.Job {
		t.Helper()
		var jobs []consent.Job
		for _, line := range strings.Split(strings.TrimSpace(operator("jobs", "list", "-failed", "-json")), "\n") {
			if line == "" {
				continue
			}
			var j consent.Job
			if err := json.Unmarshal([]byte(line), &j); err != nil {
				t.Fatalf("jobs list: %v: %s", err, line)
			}
			jobs = append(jobs, j)
		}
		return jobs
	}

	resp, body := s.do(t, "POST", "/signup", "application/json", `{"email":"ann@example.com","magnet":"uk-gdpr-checklist","marketing_consent":true}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("sign-up: %d %s", resp.StatusCode, body)
	}
	s.waitOutbox(t) // nothing is due once the job has failed
	failed := failedJobs()
	if len(failed) != 1 || failed[0].Kind != consent.JobFreebie || failed[0].Email != "ann@example.com" || !strings.Contains(failed[0].Reason, "MessageRejected") {
		t.Fatalf("failed jobs: got %+v, want ann's freebie, rejected by SES", failed)
	}
	if st := standin.Stats(); st.Rejected != 1 || st.Accepted != 0 {
		t.Fatalf("SES stand-in: got %+v, want 1 rejection and nothing accepted", st)
	}

	standin.Verify("hello@example.com") // the SES setup is fixed
	if out := operator("jobs", "retry", "-all-failed"); out != failed[0].ID+"\tretried: pending again (freebie to ann@example.com)\n" {
		t.Errorf("jobs retry -all-failed: got %q", out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for standin.Stats().Accepted == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the retried freebie was not sent within 20s: %+v", standin.Stats())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Give a duplicate time to show up: the dispatcher runs every second.
	time.Sleep(2500 * time.Millisecond)
	s.waitOutbox(t)
	st := standin.Stats()
	if st.Accepted != 1 || st.PerRecipient["ann@example.com"] != 1 {
		t.Errorf("SES stand-in after the retry: got %+v, want ann's freebie accepted exactly once", st)
	}
	sent := standin.Sent()
	if len(sent) != 1 || !strings.HasPrefix(sent[0].Subject, "Your download: ") || !strings.Contains(sent[0].Text, "/confirm?t=") {
		t.Errorf("sent: got %+v, want the freebie with its confirm link", sent)
	}
	if got := types(s.ledger(t, "ann@example.com")); got != "signup,granted" {
		t.Errorf("ledger: got %s, want one sign-up (signup,granted)", got)
	}
	if left := failedJobs(); len(left) != 0 {
		t.Errorf("failed jobs after the retry: %+v", left)
	}
	// The proof shows the delivery as sent, with SES's message id.
	var p consent.Proof
	if err := json.Unmarshal([]byte(operator("proof", "-json", "ann@example.com")), &p); err != nil {
		t.Fatal(err)
	}
	var messageID string
	if len(sent) == 1 {
		messageID = sent[0].ID
	}
	if len(p.Deliveries) != 1 || p.Deliveries[0].State != consent.JobSent || p.Deliveries[0].MessageID != messageID {
		t.Errorf("proof deliveries: got %+v, want the freebie sent as SES message %s", p.Deliveries, messageID)
	}
}
