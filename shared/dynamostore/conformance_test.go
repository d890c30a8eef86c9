package dynamostore_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/unbundled/unbundled/infra/testkit/awssetup"
	"github.com/unbundled/unbundled/infra/testkit/emulators"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/storetest"
	"github.com/unbundled/unbundled/shared/dynamostore"
)

// client reaches the DynamoDB emulator TestMain started; streams reads the
// tables' streams there.
var (
	client  *dynamodb.Client
	streams *dynamodbstreams.Client
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run starts moto, points the standard AWS environment at it and runs the
// tests. If moto cannot start every test fails; none is skipped.
func run(m *testing.M) (code int) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("dynamostore: -short: moto is not started; tests that need it skip")
		return m.Run()
	}
	ctx := context.Background()
	moto, err := emulators.StartMoto(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "start moto: %v\n", err)
		return 1
	}
	defer func() {
		if err := moto.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop moto: %v\n", err)
			code = 1
		}
	}()
	for k, v := range emulators.AWSEnv(moto.Endpoint, "") {
		if err := os.Setenv(k, v); err != nil {
			fmt.Fprintf(os.Stderr, "set %s: %v\n", k, err)
			return 1
		}
	}
	// The endpoint comes from AWS_ENDPOINT_URL_DYNAMODB, as in production.
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "load AWS config: %v\n", err)
		return 1
	}
	client = dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.HTTPClient = &serialClient{next: o.HTTPClient}
	})
	// moto serves DynamoDB Streams on the same endpoint.
	streams = dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
		o.BaseEndpoint = aws.String(moto.Endpoint)
	})
	return m.Run()
}

// serialClient sends one request at a time. moto (5.x) evaluates a
// condition and then writes, without a lock, on a threaded server, so two
// concurrent conditional writes of one item can both succeed there. DynamoDB
// makes each conditional write and each transaction atomic; serialising
// requests gives the emulator that guarantee. The store itself is still
// called from many goroutines at once.
type serialClient struct {
	mu   sync.Mutex
	next aws.HTTPClient
}

func (s *serialClient) Do(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	resp, err := s.next.Do(req)
	if err != nil {
		return nil, err
	}
	// Read the whole response under the lock: the request is done only then.
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// newTable creates a fresh table from template.yaml, with TTL enabled as in
// the template, and deletes it when the test ends.
func newTable(t *testing.T) string {
	t.Helper()
	needMoto(t)
	return awssetup.NewTestTable(t, client)
}

func TestConformance(t *testing.T) {
	needMoto(t)
	storetest.Run(t, func(t *testing.T) consent.Store {
		return dynamostore.New(client, newTable(t))
	})
}

// needMoto skips t under -short, where TestMain starts no emulator.
func needMoto(t *testing.T) {
	t.Helper()
	if client == nil {
		t.Skip("-short: needs moto; `make test` runs this test")
	}
}
