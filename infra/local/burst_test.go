package main_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unbundled/unbundled/infra/testkit/sesstandin"
)

// burstSize is how many sign-ups the burst sends (issue: at least 2,000).
const burstSize = 2000

// TestBurstLosesNothing sends a burst of sign-ups through the local server,
// delivering through the real SES adapter to a stand-in that throttles above
// 50 emails/s and fails every 13th call, and checks that every accepted
// sign-up ends with exactly one freebie and one ledger entry. Loopback only;
// bounded in count and time.
func TestBurstLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("burst test skipped in -short mode")
	}
	standin := sesstandin.New(sesstandin.Options{MaxPerSecond: 50, Burst: 5, FailEvery: 13})
	ses := httptest.NewServer(standin.Handler())
	defer ses.Close()
	for k, v := range map[string]string{
		"AWS_REGION": "eu-west-2", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"AWS_ENDPOINT_URL_SESV2": ses.URL, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	// Pace a little above the stand-in's rate so throttling really happens.
	s := start(t, t.TempDir(), "-mailer", "ses", "-max-rate", "150")

	started := time.Now()
	var accepted, refused atomic.Int64
	emails := make(chan string)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for email := range emails {
				req, _ := http.NewRequest("POST", s.base+"/signup", strings.NewReader(
					`{"email":"`+email+`","magnet":"uk-gdpr-checklist","marketing_consent":true}`))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					refused.Add(1)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					accepted.Add(1)
				} else {
					refused.Add(1)
				}
			}
		}()
	}
	for i := range burstSize {
		emails <- fmt.Sprintf("burst-%04d@example.com", i)
	}
	close(emails)
	wg.Wait()
	acceptedIn := time.Since(started)

	// Every accepted sign-up must end up sent; allow generous time for the
	// paced, throttled drain (2,000 at ~50/s is ~40 s).
	deadline := time.Now().Add(3 * time.Minute)
	for {
		_, body := s.do(t, "GET", "/_local/outbox.json", "", "")
		if strings.Contains(body, `"due": 0`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained after 3 minutes: %s", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	drainedIn := time.Since(started)

	stats := standin.Stats()
	if got := accepted.Load(); got != burstSize {
		t.Errorf("accepted %d of %d sign-ups (%d refused)", got, burstSize, refused.Load())
	}
	if stats.Accepted != int(accepted.Load()) {
		t.Errorf("freebies accepted by SES: %d, want one per accepted sign-up (%d)", stats.Accepted, accepted.Load())
	}
	duplicates := 0
	for _, n := range stats.PerRecipient {
		if n > 1 {
			duplicates++
		}
	}
	if duplicates > 0 || len(stats.PerRecipient) != int(accepted.Load()) {
		t.Errorf("recipients: %d distinct, %d with duplicates; want %d and 0", len(stats.PerRecipient), duplicates, accepted.Load())
	}
	// The ledger holds exactly one sign-up (and one grant) per accepted request.
	for i := range burstSize {
		email := fmt.Sprintf("burst-%04d@example.com", i)
		if got := types(s.ledger(t, email)); got != "signup,granted" {
			t.Fatalf("%s ledger: %q, want signup,granted", email, got)
		}
	}
	if stats.Throttled == 0 || stats.Failed == 0 {
		t.Errorf("the stand-in injected no faults (throttled %d, failed %d): the test proved nothing", stats.Throttled, stats.Failed)
	}
	fmt.Fprintf(os.Stdout, "burst: %d sign-ups accepted in %s (%.0f/s); all %d freebies sent in %s; SES stand-in: %d throttled, %d transient failures, 0 duplicates\n",
		accepted.Load(), acceptedIn.Round(time.Millisecond), float64(accepted.Load())/acceptedIn.Seconds(),
		stats.Accepted, drainedIn.Round(time.Millisecond), stats.Throttled, stats.Failed)
}
