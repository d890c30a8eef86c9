package rie_test

import (
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/unbundled/unbundled/infra/testkit/awssetup"
	"github.com/unbundled/unbundled/infra/testkit/emulators"
	"github.com/unbundled/unbundled/infra/testkit/rie"
	"github.com/unbundled/unbundled/infra/testkit/streamtest"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/dynamostore"
	"github.com/unbundled/unbundled/shared/magnet"
	"github.com/unbundled/unbundled/shared/secretkeys"
	"github.com/unbundled/unbundled/shared/token"
)

// buildDirVar names the sam build output the test runs (`make test` sets it).
const buildDirVar = "UNBUNDLED_SAM_BUILD_DIR"

// sourceIP is the client address API Gateway reports in every fixture.
const sourceIP = "203.0.113.7"

// stack is every function of template.yaml running under its own runtime
// emulator, against moto (DynamoDB, Secrets Manager) and aws-ses-v2-local,
// plus an API Gateway stand-in that routes requests as the template does.
type stack struct {
	functions []rie.Function
	procs     map[string]*rie.Process // by logical id
	routes    map[string]string       // "METHOD /path" -> logical id

	ses   *emulators.Process
	store *dynamostore.Store
	keys  token.Keys
	// secrets are the two key secrets' raw values: no log may hold them.
	secrets []string
	catalog *magnet.Catalog
	// baseURL is PUBLIC_BASE_URL from infra/local/env.json: emailed links start with it.
	baseURL string

	// what start needs to run (more) function instances
	rieBinary, buildDir, logDir string
	envs                        map[string]map[string]string // env.json values by function
	motoURL                     string

	// streams reads the table's stream for functions with DynamoDB events
	// (nil if there are none); seen holds the sequence numbers passed on.
	streams *dynamodbstreams.Client
	table   string
	seen    map[string]bool

	mu      sync.Mutex
	invokes map[string][]time.Duration // wall time of each invocation, by process name
}

// startStack starts the emulators and one runtime emulator per function.
// It fails the test (never skips) when the build or a tool is missing.
func startStack(t *testing.T) *stack {
	t.Helper()
	buildDir := os.Getenv(buildDirVar)
	if buildDir == "" {
		t.Fatalf("%s is not set: run `make test` (it runs `make sam-build ARCH=<this machine>` first), "+
			"or `make sam-build ARCH=x86_64` (arm64 on arm64 machines) and then %s=$PWD/.aws-sam/build go test ./infra/testkit/rie",
			buildDirVar, buildDirVar)
	}
	root, err := emulators.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	rieBinary, err := emulators.ToolPath(emulators.RIEPath)
	if err != nil {
		t.Fatal(err)
	}
	template := readFile(t, filepath.Join(root, "template.yaml"))
	envJSON := readFile(t, filepath.Join(root, "infra", "local", "env.json"))
	fns, err := rie.Functions(template)
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	if len(fns) == 0 {
		t.Fatal("template.yaml declares no AWS::Serverless::Function")
	}
	for _, fn := range fns {
		checkBootstrap(t, filepath.Join(buildDir, fn.Name))
	}

	s := &stack{
		functions: fns, procs: map[string]*rie.Process{}, routes: map[string]string{},
		rieBinary: rieBinary, buildDir: buildDir, logDir: t.TempDir(),
		envs: map[string]map[string]string{}, invokes: map[string][]time.Duration{},
	}
	for _, fn := range fns {
		for _, r := range fn.Routes {
			if other, dup := s.routes[r]; dup {
				t.Fatalf("template.yaml routes %s to both %s and %s", r, other, fn.Name)
			}
			s.routes[r] = fn.Name
		}
	}

	moto := emulators.StartMotoForTest(t)
	s.motoURL = moto.Endpoint
	s.ses = emulators.StartSESForTest(t)
	ctx := t.Context()

	// The functions' environment: infra/local/env.json, exactly as sam local reads it.
	unknown, missing := map[string][]string{}, map[string][]string{}
	for _, fn := range fns {
		env, dropped, err := rie.Env(envJSON, fn)
		if err != nil {
			t.Fatalf("infra/local/env.json: %v", err)
		}
		for _, name := range dropped {
			unknown[name] = append(unknown[name], fn.Name)
		}
		for _, name := range fn.EnvNames {
			if _, ok := env[name]; !ok {
				missing[name] = append(missing[name], fn.Name)
			}
		}
		s.envs[fn.Name] = env
	}
	for _, name := range sortedKeys(unknown) {
		t.Errorf("infra/local/env.json sets %s, which template.yaml does not declare for %v: sam local ignores it", name, unknown[name])
	}
	for _, name := range sortedKeys(missing) {
		t.Errorf("template.yaml declares %s for %v but infra/local/env.json gives no value: sam local would use the template's; add it to infra/local/env.json", name, missing[name])
	}
	params := s.envs[fns[0].Name]
	s.baseURL = params["PUBLIC_BASE_URL"]

	cfg := motoConfig(moto.Endpoint)
	if err := awssetup.Prepare(ctx, cfg, awssetup.Options{
		Template:          template,
		TableName:         params["TABLE_NAME"],
		SigningKeysSecret: params["SIGNING_KEYS_SECRET"],
		SubjectKeySecret:  params["SUBJECT_KEY_SECRET"],
	}); err != nil {
		t.Fatal(err)
	}
	s.store = dynamostore.New(dynamodb.NewFromConfig(cfg), params["TABLE_NAME"])
	sm := secretsmanager.NewFromConfig(cfg)
	if s.keys, err = secretkeys.Load(ctx, sm, params["SIGNING_KEYS_SECRET"], params["SUBJECT_KEY_SECRET"]); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{params["SIGNING_KEYS_SECRET"], params["SUBJECT_KEY_SECRET"]} {
		out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
		if err != nil {
			t.Fatal(err)
		}
		s.secrets = append(s.secrets, secretParts(aws.ToString(out.SecretString))...)
	}
	if s.catalog, err = magnet.Load(filepath.Join(buildDir, fns[0].Name, params["MAGNETS_FILE"])); err != nil {
		t.Fatalf("the magnets packaged with %s: %v", fns[0].Name, err)
	}

	for _, fn := range fns {
		s.procs[fn.Name] = s.start(t, fn, fn.Name, nil)
		if len(fn.Streams) > 0 && s.streams == nil {
			s.streams, s.table, s.seen = dynamodbstreams.NewFromConfig(cfg), params["TABLE_NAME"], map[string]bool{}
		}
	}
	return s
}

// start runs fn under a runtime emulator as process name, with its
// env.json environment changed by overrides, and stops it when the test
// ends.
func (s *stack) start(t *testing.T, fn rie.Function, name string, overrides map[string]string) *rie.Process {
	t.Helper()
	dir := filepath.Join(s.buildDir, fn.Name)
	fromFile := map[string]string{}
	for k, v := range s.envs[fn.Name] {
		fromFile[k] = v
	}
	for k, v := range overrides {
		fromFile[k] = v
	}
	env := lambdaEnv(t, fn, dir, fromFile, s.motoURL, s.ses.Endpoint)
	p, err := rie.Start(t.Context(), s.rieBinary, rie.Options{Name: name, Dir: dir, Env: env, LogDir: s.logDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(p.Logs())
		}
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	})
	return p
}

func (s *stack) function(t *testing.T, name string) rie.Function {
	t.Helper()
	for _, fn := range s.functions {
		if fn.Name == name {
			return fn
		}
	}
	t.Fatalf("template.yaml has no function %s", name)
	return rie.Function{}
}

func (s *stack) recordInvoke(name string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invokes[name] = append(s.invokes[name], d)
}

// lambdaEnv is the whole environment of one function: its env.json values
// with the endpoints pointed at the emulators, and what Lambda itself sets.
func lambdaEnv(t *testing.T, fn rie.Function, dir string, fromFile map[string]string, motoURL, sesURL string) []string {
	t.Helper()
	env := map[string]string{}
	for k, v := range fromFile {
		env[k] = v
	}
	endpoints := map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB":        motoURL,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER": motoURL,
		"AWS_ENDPOINT_URL_SESV2":           sesURL,
	}
	for k := range env {
		if strings.HasPrefix(k, "AWS_ENDPOINT_URL") {
			u, ok := endpoints[k]
			if !ok {
				t.Fatalf("infra/local/env.json sets %s for %s: the test knows no emulator for it; add one to infra/testkit/rie", k, fn.Name)
			}
			env[k] = u
		}
	}
	for k, v := range emulators.AWSEnv(motoURL, sesURL) {
		if !strings.HasPrefix(k, "AWS_ENDPOINT_URL") { // those come from env.json only
			env[k] = v
		}
	}
	env["AWS_DEFAULT_REGION"] = emulators.Region
	env["AWS_SESSION_TOKEN"] = "test"
	env["AWS_LAMBDA_FUNCTION_NAME"] = fn.Name
	env["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST"
	env["LAMBDA_TASK_ROOT"] = dir
	env["TZ"] = ":UTC"
	env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
	if fn.Timeout > 0 {
		env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = strconv.Itoa(fn.Timeout)
	}
	if fn.MemorySize > 0 {
		env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(fn.MemorySize)
	}
	list := make([]string, 0, len(env))
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	sort.Strings(list)
	return list
}

// pump passes new stream records to every function with a DynamoDB event,
// as Lambda's event source mapping does: filtered, in batches. A function
// error or a reported batch item failure fails the test.
func (s *stack) pump(t *testing.T) {
	t.Helper()
	if s.streams == nil {
		return
	}
	for range 10 { // deliveries write too; read until the stream is quiet
		all, err := streamtest.Records(t.Context(), s.streams, s.table)
		if err != nil {
			t.Fatalf("read the table's stream: %v", err)
		}
		var records []events.DynamoDBEventRecord
		for _, r := range all {
			if !s.seen[r.Change.SequenceNumber] {
				s.seen[r.Change.SequenceNumber] = true
				records = append(records, r)
			}
		}
		if len(records) == 0 {
			return
		}
		for _, fn := range s.functions {
			for _, se := range fn.Streams {
				var batch []events.DynamoDBEventRecord
				for _, r := range records {
					if passes(t, se.Filters, r) {
						batch = append(batch, r)
					}
				}
				for len(batch) > 0 {
					n := min(len(batch), se.BatchSize)
					s.invokeStream(t, fn.Name, batch[:n])
					batch = batch[n:]
				}
			}
		}
	}
	t.Fatal("the table's stream never went quiet after 10 rounds of deliveries")
}

func passes(t *testing.T, filters []string, r events.DynamoDBEventRecord) bool {
	t.Helper()
	if len(filters) == 0 {
		return true
	}
	for _, f := range filters {
		ok, err := rie.MatchFilter(f, r)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return true
		}
	}
	return false
}

func (s *stack) invokeStream(t *testing.T, fn string, records []events.DynamoDBEventRecord) {
	t.Helper()
	payload, err := json.Marshal(events.DynamoDBEvent{Records: records})
	if err != nil {
		t.Fatal(err)
	}
	p := s.procs[fn]
	began := time.Now()
	out, err := p.Invoke(t.Context(), payload)
	if err != nil {
		t.Fatalf("%s with %d stream records: %v\n%s", fn, len(records), err, p.Logs())
	}
	s.recordInvoke(fn, time.Since(began))
	var res events.DynamoDBEventResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%s answered %s: %v", fn, out, err)
	}
	if len(res.BatchItemFailures) > 0 {
		t.Errorf("%s reported %d of %d stream records as failed: %+v\n%s", fn, len(res.BatchItemFailures), len(records), res.BatchItemFailures, p.Logs())
	}
}

// motoConfig reaches moto directly, whatever AWS variables the developer's
// shell holds.
func motoConfig(endpoint string) aws.Config {
	return aws.Config{
		Region:       emulators.Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test", Source: "rie-test"}, nil
		}),
	}
}

// checkBootstrap fails unless dir holds a bootstrap this machine can run,
// statically linked (no cgo), and the magnets file the Makefile packages.
func checkBootstrap(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, "bootstrap")
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%v: run `make sam-build ARCH=%s` (or `make test`)", err, samArch())
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	if f.Machine != want {
		t.Fatalf("%s is built for %v, this machine runs %v: run `make sam-build ARCH=%s`", path, f.Machine, want, samArch())
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s is dynamically linked (has an ELF interpreter): Lambda bootstraps must be built with CGO_ENABLED=0", path)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "magnets.json")); err != nil {
		t.Errorf("sam build did not package magnets.json with %s: %v", filepath.Base(dir), err)
	}
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func samArch() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "x86_64"
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// response is an API Gateway HTTP API answer as a client would see it.
type response struct {
	status    int
	header    http.Header
	body      string
	requestID string // the API Gateway request id that was sent
	function  string
}

// request is one HTTP request through the API Gateway stand-in.
type request struct {
	fixture string // an HTTP API payload v2 event in testdata
	method  string
	target  string     // path, with an optional query
	form    url.Values // if non-nil, replaces the fixture's body
	body    string     // if set, replaces the fixture's body (e.g. JSON)
	// header sets (or, with "", removes) headers; names in lower case as
	// API Gateway sends them.
	header map[string]string
}

// request routes req to the function template.yaml names for its method
// and path and invokes it.
func (s *stack) request(t *testing.T, req request) response {
	t.Helper()
	path, _, _ := strings.Cut(req.target, "?")
	fn, ok := s.routes[req.method+" "+path]
	if !ok {
		t.Fatalf("%s %s: no function serves this route in template.yaml", req.method, path)
	}
	return s.invoke(t, s.procs[fn], req)
}

// invoke builds an HTTP API (payload v2) event for req from its fixture
// and sends it to p. Each event gets a fresh request id.
func (s *stack) invoke(t *testing.T, p *rie.Process, req request) response {
	t.Helper()
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(readFile(t, filepath.Join("testdata", req.fixture)), &ev); err != nil {
		t.Fatalf("testdata/%s: %v", req.fixture, err)
	}
	u, err := url.Parse(req.target)
	if err != nil {
		t.Fatal(err)
	}
	route := req.method + " " + u.Path
	ev.RouteKey, ev.RequestContext.RouteKey = route, route
	ev.RawPath, ev.RequestContext.HTTP.Path = u.Path, u.Path
	ev.RequestContext.HTTP.Method = req.method
	ev.RawQueryString = u.RawQuery
	ev.QueryStringParameters = nil
	for k, vs := range u.Query() {
		if ev.QueryStringParameters == nil {
			ev.QueryStringParameters = map[string]string{}
		}
		ev.QueryStringParameters[k] = strings.Join(vs, ",") // as API Gateway joins repeats
	}
	now := time.Now().UTC()
	ev.RequestContext.RequestID = newRequestID()
	ev.RequestContext.Time = now.Format("02/Jan/2006:15:04:05 -0700")
	ev.RequestContext.TimeEpoch = now.UnixMilli()
	for k, v := range req.header {
		if v == "" {
			delete(ev.Headers, k)
		} else {
			ev.Headers[k] = v
		}
	}
	if req.form != nil || req.body != "" {
		ev.Body = req.body
		if req.form != nil {
			ev.Body = req.form.Encode()
		}
		if ev.IsBase64Encoded {
			ev.Body = base64.StdEncoding.EncodeToString([]byte(ev.Body))
		}
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			t.Fatalf("testdata/%s: body: %v", req.fixture, err)
		}
	}
	ev.Headers["content-length"] = strconv.Itoa(len(body))
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	began := time.Now()
	out, err := p.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", req.method, u.Path, err, p.Logs())
	}
	s.recordInvoke(p.Name, time.Since(began))
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%s %s: %s answered %s: %v", req.method, u.Path, p.Name, out, err)
	}
	r := response{status: res.StatusCode, header: http.Header{}, body: res.Body, requestID: ev.RequestContext.RequestID, function: p.Name}
	for k, v := range res.Headers {
		r.header.Set(k, v)
	}
	if res.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(res.Body)
		if err != nil {
			t.Fatalf("%s %s: base64 body: %v", req.method, u.Path, err)
		}
		r.body = string(b)
	}
	return r
}

// newRequestID returns an id shaped like API Gateway's ("CJm2ahGkLPEEMqw=").
func newRequestID() string {
	b := make([]byte, 11)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// ledger reads one person's ledger straight from the table, as the
// functions do: subscriber id from the subject key in Secrets Manager.
func (s *stack) ledger(t *testing.T, email string) []consent.Event {
	t.Helper()
	addr, err := consent.NormaliseAddress(email)
	if err != nil {
		t.Fatal(err)
	}
	events, err := s.store.Events(t.Context(), s.keys.Subject.SubscriberID(addr))
	if err != nil {
		t.Fatalf("ledger: %v", err)
	}
	return events
}

func eventTypes(events []consent.Event) string {
	var s []string
	for _, e := range events {
		s = append(s, string(e.Type))
	}
	return strings.Join(s, ",")
}

// mailTo delivers what is queued, then returns the emails the SES emulator
// holds for address, oldest first.
func (s *stack) mailTo(t *testing.T, address string) []emulators.SESMessage {
	t.Helper()
	s.pump(t) // outbox: queued emails go out through the stream's function
	all, err := emulators.SESStore(t.Context(), s.ses.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var got []emulators.SESMessage
	for _, m := range all {
		for _, to := range m.Destination.To {
			if strings.EqualFold(to, address) {
				got = append(got, m)
				break
			}
		}
	}
	return got
}

// relative returns the path and query of link, which must start with the
// public base URL.
func (s *stack) relative(t *testing.T, link string) string {
	t.Helper()
	if !strings.HasPrefix(link, s.baseURL+"/") {
		t.Fatalf("link %q does not start with PUBLIC_BASE_URL %s/", link, s.baseURL)
	}
	return strings.TrimPrefix(link, s.baseURL)
}

// functionLog is everything the functions wrote (their logs).
func (s *stack) functionLog(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, fn := range s.functions {
		fmt.Fprintf(&b, "%s\n", readFile(t, s.procs[fn.Name].StdoutPath))
	}
	return b.String()
}

// secretParts are the key material in a secret's value: the whole value
// and, for a JSON keyring, each key in it.
func secretParts(value string) []string {
	parts := []string{value}
	var keyring map[string]string
	if json.Unmarshal([]byte(value), &keyring) == nil {
		for id, v := range keyring {
			if id != "active" && len(v) >= 16 {
				parts = append(parts, v)
			}
		}
	}
	return parts
}
