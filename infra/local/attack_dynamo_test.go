package main_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/unbundled/unbundled/infra/testkit/awssetup"
	"github.com/unbundled/unbundled/infra/testkit/emulators"
)

// TestAttackSuiteDynamoDB runs the scenarios whose guarantees rest on the
// store — the per-address email cap, dedupe, the per-source limit and the
// sign-up/unsubscribe contention, all kept as conditional writes and TTL
// records — with -store dynamodb against moto, a table per server. Under -short it skips
// (moto is not started); in full runs a missing moto fails it.
//
// The servers reach moto through oneAtATime: see there why.
func TestAttackSuiteDynamoDB(t *testing.T) {
	moto := emulators.StartMotoForTest(t)
	endpoint := oneAtATime(t, moto.Endpoint)
	// The server processes inherit these: the standard AWS environment.
	for k, v := range emulators.AWSEnv(endpoint, "") {
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint)
	root, err := emulators.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	template, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// Each server gets its own table, as each SQLite server its own file:
	// nothing one scenario leaves behind (a job a stopped server was
	// sending) reaches the next one's outbox.
	tables := 0
	store := func(t *testing.T) []string {
		t.Helper()
		tables++
		table := fmt.Sprintf("unbundled-attack-%d", tables)
		if err := awssetup.Prepare(t.Context(), cfg, awssetup.Options{
			Template: template, TableName: table,
			SigningKeysSecret: awssetup.LocalSigningKeysSecret, SubjectKeySecret: awssetup.LocalSubjectKeySecret,
		}); err != nil {
			t.Fatal(err)
		}
		return []string{"-store", "dynamodb", "-table", table}
	}
	// moto answers some 60 requests a second, one at a time: 200 sign-ups on
	// one address would queue each request's reads and writes for longer
	// than the sign-up's 6 s retry budget (consent/retry.go), which is sized
	// for DynamoDB's milliseconds, and so test the emulator's speed. A
	// smaller storm still races every write for the same ledger, email slots
	// and claims.
	a := &attackRun{title: "attack suite (DynamoDB store, moto)", store: store, signups: 25, unsubscribes: 10}
	runAttackSuite(t, a, "email-cap", "dedupe", "source-limit", "contention")
}

// oneAtATime returns the URL of a loopback proxy that forwards to target
// one request at a time.
//
// moto (5.2.5) runs requests on threads without a lock, and its
// TransactWriteItems copies the whole table before it starts and, if any
// condition fails, puts that copy back — erasing whatever concurrent
// requests wrote in between (moto/dynamodb/models/__init__.py,
// transact_write_items). Under the contention scenario that loses
// committed events, claims and jobs, so the server would be blamed for the
// emulator. DynamoDB isolates each transaction; serving moto's requests one
// at a time gives it the same per-request isolation, while the server's own
// requests still interleave their reads and writes freely.
func oneAtATime(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.Transport = &serialTransport{next: http.DefaultTransport}
	// A server stopped mid-request cancels its call: answer 502 without
	// logging, the server reports what matters.
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL
}

// serialTransport makes one round trip at a time, the answer read whole
// before the next request goes out.
type serialTransport struct {
	mu   sync.Mutex
	next http.RoundTripper
}

func (s *serialTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	resp, err := s.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
