// Package emulators starts and stops local AWS emulators for tests: moto
// (DynamoDB and friends) and aws-ses-v2-local (SES v2), each on a free
// loopback port, from the pinned tools that infra/tools/install.sh
// (`make tools`) puts in git-ignored folders:
//
//	<repo>/.tools/venv/bin/moto_server                          moto[server]
//	<repo>/infra/tools/node_modules/aws-ses-v2-local/dist/cli.js aws-ses-v2-local
//	<repo>/.tools/bin/aws-lambda-rie, <repo>/.tools/venv/bin/sam
//
// Nothing here relies on tools installed globally: a missing tool is an error
// that names the missing file and says to run `make tools`. Tests should fail,
// not skip, on such an error.
//
// Each emulator runs in its own process group; Process.Stop kills the whole
// group and waits for it. On Linux the emulator is also sent SIGKILL if the
// test binary dies without calling Stop.
package emulators

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// StartTimeout bounds how long Start* waits for an emulator to answer HTTP.
const StartTimeout = 30 * time.Second

// stopGrace is how long Stop waits after SIGTERM before sending SIGKILL.
const stopGrace = 5 * time.Second

// Region is the AWS region the emulators' SDK environment uses.
const Region = "eu-west-2"

// Process is a running emulator.
type Process struct {
	// Name is the emulator's name, e.g. "moto" or "aws-ses-v2-local".
	Name string
	// Endpoint is its base URL, http://127.0.0.1:PORT (no trailing slash).
	Endpoint string
	// Port is the loopback TCP port it listens on.
	Port int
	// LogPath is the file receiving its stdout and stderr. Stop removes it
	// when the emulator shut down cleanly and keeps it otherwise.
	LogPath string

	cmd     *exec.Cmd
	pid     int
	done    chan struct{} // closed once cmd.Wait has returned
	waitErr error         // set before done is closed

	stopOnce sync.Once
	stopErr  error
}

// Stop ends the emulator's whole process group (SIGTERM, then SIGKILL after a
// grace period), waits for it, and checks that no process of the group is
// left. It is safe to call more than once; later calls return the first
// result. It returns an error if the emulator had already exited on its own.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() { p.stopErr = p.stop() })
	return p.stopErr
}

func (p *Process) stop() error {
	var exitedEarly bool
	select {
	case <-p.done:
		exitedEarly = true
	default:
	}
	signalGroup(p.pid, sigTerm)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		signalGroup(p.pid, sigKill)
		<-p.done
	}
	// Anything the emulator started in its group goes too.
	signalGroup(p.pid, sigKill)
	deadline := time.Now().Add(2 * time.Second)
	for !groupGone(p.pid) {
		if time.Now().After(deadline) {
			return fmt.Errorf("emulators: %s: processes of group %d still running after SIGKILL (log: %s)", p.Name, p.pid, p.LogPath)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if exitedEarly {
		return fmt.Errorf("emulators: %s exited before Stop: %v (log: %s)\n%s", p.Name, p.waitErr, p.LogPath, logTail(p.LogPath, 20))
	}
	_ = os.Remove(p.LogPath)
	return nil
}

// Exited reports whether the emulator process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// spec describes how to run and probe one emulator.
type spec struct {
	name string
	// tools are paths relative to the repo root that must exist; the first is the executable or script.
	tools []string
	// argv builds the command line from the absolute tool path and the port.
	argv func(tool string, port int) ([]string, error)
	// env is added to the environment; dropEnv names variables removed from it.
	env     []string
	dropEnv []string
	// probePath is GET-requested until ready reports true.
	probePath string
	ready     func(resp *http.Response) bool
}

// StartMoto runs moto_server from the pinned venv on a free loopback port and
// waits until it answers HTTP. ctx bounds the start-up only: the emulator
// runs until Stop.
func StartMoto(ctx context.Context) (*Process, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	return start(ctx, root, motoSpec(), os.TempDir())
}

func motoSpec() spec {
	return spec{
		name:  "moto",
		tools: []string{MotoServerPath},
		argv: func(tool string, port int) ([]string, error) {
			return []string{tool, "-H", "127.0.0.1", "-p", strconv.Itoa(port)}, nil
		},
		env:       []string{"PYTHONUNBUFFERED=1"},
		probePath: "/",
		ready:     func(resp *http.Response) bool { return resp.StatusCode < 500 },
	}
}

// StartSES runs aws-ses-v2-local (`node cli.js --host 127.0.0.1 --port PORT`)
// from infra/tools/node_modules on a free loopback port and waits until
// GET /store answers with JSON. ctx bounds the start-up only: the emulator
// runs until Stop. See SESStore for what it records.
func StartSES(ctx context.Context) (*Process, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	return start(ctx, root, sesSpec(), os.TempDir())
}

func sesSpec() spec {
	return spec{
		name:  "aws-ses-v2-local",
		tools: []string{SESLocalPath},
		argv: func(tool string, port int) ([]string, error) {
			node, err := exec.LookPath("node")
			if err != nil {
				return nil, fmt.Errorf("emulators: aws-ses-v2-local needs Node.js, but node is not on PATH: %w", err)
			}
			return []string{node, tool, "--host", "127.0.0.1", "--port", strconv.Itoa(port)}, nil
		},
		// SMTP_TRANSPORT would make it also relay every email to an SMTP server.
		dropEnv:   []string{"SMTP_TRANSPORT"},
		probePath: "/store",
		ready: func(resp *http.Response) bool {
			if resp.StatusCode != http.StatusOK {
				return false
			}
			var s sesStore
			return decodeJSON(resp.Body, &s) == nil
		},
	}
}

// StartMotoForTest is StartMoto for tests: it fails the test (never skips) if
// moto cannot start — except under -short, where it skips the test with a
// message — logs the end of moto's log if the test failed, and stops
// moto when the test ends.
func StartMotoForTest(t testing.TB) *Process {
	t.Helper()
	return startForTest(t, motoSpec())
}

// StartSESForTest is StartSES for tests: it fails the test (never skips) if
// aws-ses-v2-local cannot start — except under -short, where it skips — logs the end of its log if the test failed,
// and stops it when the test ends.
func StartSESForTest(t testing.TB) *Process {
	t.Helper()
	return startForTest(t, sesSpec())
}

func startForTest(t testing.TB, s spec) *Process {
	t.Helper()
	if testing.Short() {
		t.Skipf("-short: %s is not started (it needs the tools `make tools` installs); `make test` runs this test", s.name)
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout+10*time.Second)
	defer cancel()
	p, err := start(ctx, root, s, os.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log (%s), last lines:\n%s", p.Name, p.LogPath, logTail(p.LogPath, 30))
		}
		if err := p.Stop(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// start runs s on a free port, retrying with another port if the one picked
// was taken in the meantime.
func start(ctx context.Context, root string, s spec, logDir string) (*Process, error) {
	paths := make([]string, len(s.tools))
	for i, rel := range s.tools {
		p, err := toolPath(root, rel)
		if err != nil {
			return nil, err
		}
		paths[i] = p
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p, retry, err := startOnce(ctx, root, s, paths[0], logDir)
		if err == nil {
			return p, nil
		}
		lastErr = err
		if !retry || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func startOnce(ctx context.Context, root string, s spec, tool, logDir string) (p *Process, retry bool, err error) {
	port, err := freePort()
	if err != nil {
		return nil, false, err
	}
	argv, err := s.argv(tool, port)
	if err != nil {
		return nil, false, err
	}
	logf, err := os.CreateTemp(logDir, "emulator-"+s.name+"-*.log")
	if err != nil {
		return nil, false, fmt.Errorf("emulators: %s: log file: %w", s.name, err)
	}
	logPath := logf.Name()
	fmt.Fprintf(logf, "# %s\n", strings.Join(argv, " "))

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = root
	cmd.Env = childEnv(s.env, s.dropEnv)
	cmd.Stdin = nil
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, false, fmt.Errorf("emulators: %s: start %s: %w (log: %s)", s.name, argv[0], err, logPath)
	}
	logf.Close() // the child has its own copy of the descriptor

	p = &Process{
		Name:     s.name,
		Endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		Port:     port,
		LogPath:  logPath,
		cmd:      cmd,
		pid:      cmd.Process.Pid,
		done:     make(chan struct{}),
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()

	if err := p.waitReady(ctx, s); err != nil {
		exited := p.Exited()
		_ = p.Stop()
		tail := logTail(logPath, 20)
		inUse := strings.Contains(tail, "in use") || strings.Contains(tail, "EADDRINUSE")
		return nil, exited && inUse, fmt.Errorf("emulators: %s did not start: %w (log: %s)\n%s", s.name, err, logPath, tail)
	}
	return p, false, nil
}

func (p *Process) waitReady(ctx context.Context, s spec) error {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	url := p.Endpoint + s.probePath
	var lastErr error
	for {
		if p.Exited() {
			return fmt.Errorf("process exited: %v", p.waitErr)
		}
		reqCtx, reqCancel := context.WithTimeout(ctx, 2*time.Second)
		req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, url, nil)
		if err != nil {
			reqCancel()
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			ok := s.ready(resp)
			resp.Body.Close()
			reqCancel()
			if ok {
				return nil
			}
			lastErr = fmt.Errorf("GET %s: not ready (HTTP %d)", url, resp.StatusCode)
		} else {
			reqCancel()
			lastErr = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer from %s within %v: %v (last: %v)", url, StartTimeout, ctx.Err(), lastErr)
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("emulators: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func childEnv(add, drop []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		skip := false
		for _, d := range drop {
			if name == d {
				skip = true
				break
			}
		}
		if !skip {
			env = append(env, kv)
		}
	}
	return append(env, add...)
}

// logTail returns the last n lines of the file at path.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// AWSEnv returns the environment the AWS SDKs need to talk to the emulators:
// region eu-west-2, static test credentials, no EC2 metadata lookups, and
// the per-service endpoint overrides (AWS_ENDPOINT_URL_DYNAMODB,
// AWS_ENDPOINT_URL_SESV2) for the endpoints that are not empty.
func AWSEnv(dynamoEndpoint, sesEndpoint string) map[string]string {
	env := map[string]string{
		"AWS_REGION":                Region,
		"AWS_ACCESS_KEY_ID":         "test",
		"AWS_SECRET_ACCESS_KEY":     "test",
		"AWS_EC2_METADATA_DISABLED": "true",
	}
	if dynamoEndpoint != "" {
		env["AWS_ENDPOINT_URL_DYNAMODB"] = dynamoEndpoint
	}
	if sesEndpoint != "" {
		env["AWS_ENDPOINT_URL_SESV2"] = sesEndpoint
	}
	return env
}

func decodeJSON(r io.Reader, v any) error {
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
