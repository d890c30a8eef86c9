// Package rie runs built Lambda bootstraps under the AWS Lambda Runtime
// Interface Emulator (aws-lambda-rie, pinned in .tools/bin by `make tools`)
// and invokes them, for the end-to-end tests in this folder. It also reads
// what those tests need from template.yaml (the functions and their API
// routes) and from infra/local/env.json (the functions' environment for sam
// local).
//
// Each emulator runs in its own process group with its own two loopback
// ports; Stop kills the whole group.
package rie

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
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// StartTimeout bounds how long Start waits for the emulator to listen.
const StartTimeout = 10 * time.Second

// Options describe one function to run.
type Options struct {
	// Name is the function's logical id; it becomes AWS_LAMBDA_FUNCTION_NAME.
	Name string
	// Dir is the function's build directory (sam build's
	// .aws-sam/build/<Name>), holding bootstrap and any packaged files. It is
	// the working directory and LAMBDA_TASK_ROOT, as /var/task is on Lambda.
	Dir string
	// Env is the function's whole environment (nothing is inherited), as
	// NAME=value pairs.
	Env []string
	// LogDir receives the emulator's log files.
	LogDir string
}

// Process is a function running under the emulator.
type Process struct {
	Name string
	// Endpoint is the invoke URL:
	// http://127.0.0.1:PORT/2015-03-31/functions/function/invocations.
	Endpoint string
	// StdoutPath receives what the function writes (its logs, after the
	// emulator's START/END/REPORT lines); StderrPath the emulator's own
	// log, including "INIT REPORT(durationMs: …)".
	StdoutPath, StderrPath string

	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error

	mu       sync.Mutex
	initLine string // the first INIT REPORT line seen on stderr

	stopOnce sync.Once
	stopErr  error
}

// Start runs the emulator for o with the bootstrap in o.Dir on two free
// loopback ports (invoke API and runtime API), and waits until it accepts
// connections. The function itself starts (its init phase) at the first
// invocation, as on Lambda.
func Start(ctx context.Context, rieBinary string, o Options) (*Process, error) {
	bootstrap := filepath.Join(o.Dir, "bootstrap")
	fi, err := os.Stat(bootstrap)
	if err != nil {
		return nil, fmt.Errorf("rie: %s: %w", o.Name, err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("rie: %s: %s is not an executable file", o.Name, bootstrap)
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, fmt.Errorf("rie: %s: %w", o.Name, err)
	}
	invokeAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	p := &Process{
		Name:       o.Name,
		Endpoint:   "http://" + invokeAddr + "/2015-03-31/functions/function/invocations",
		StdoutPath: filepath.Join(o.LogDir, o.Name+".stdout.log"),
		StderrPath: filepath.Join(o.LogDir, o.Name+".stderr.log"),
		done:       make(chan struct{}),
	}
	stdout, err := os.Create(p.StdoutPath)
	if err != nil {
		return nil, fmt.Errorf("rie: %s: log file: %w", o.Name, err)
	}
	defer stdout.Close() // the child has its own descriptor
	stderr, err := os.Create(p.StderrPath)
	if err != nil {
		return nil, fmt.Errorf("rie: %s: log file: %w", o.Name, err)
	}

	p.cmd = exec.Command(rieBinary,
		"--runtime-interface-emulator-address", invokeAddr,
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(ports[1]),
		bootstrap)
	p.cmd.Dir = o.Dir
	p.cmd.Env = o.Env
	p.cmd.Stdout = stdout
	// Through a pipe, so INIT REPORT is seen as it is written.
	p.cmd.Stderr = &lineWatcher{w: stderr, onLine: p.watchLine}
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		stderr.Close()
		return nil, fmt.Errorf("rie: %s: start %s: %w", o.Name, rieBinary, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		stderr.Close()
		close(p.done)
	}()
	if err := p.waitListening(ctx, invokeAddr); err != nil {
		_ = p.Stop()
		return nil, fmt.Errorf("rie: %s did not start: %w\n%s", o.Name, err, p.Logs())
	}
	return p, nil
}

func (p *Process) waitListening(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	var d net.Dialer
	for {
		select {
		case <-p.done:
			return fmt.Errorf("emulator exited: %v", p.waitErr)
		default:
		}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nothing listening on %s within %v: %w", addr, StartTimeout, err)
		case <-p.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FunctionError is a failed invocation as the emulator reports it.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Invoke sends payload as the function's event and returns its response
// payload. A function error (an error returned by the handler, a panic, a
// failed init) is a *FunctionError.
func (p *Process) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Endpoint, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("rie: %s: %w", p.Name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rie: invoke %s: %w", p.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("rie: invoke %s: read response: %w", p.Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("rie: invoke %s: HTTP %d: %s", p.Name, resp.StatusCode, body)
	}
	var fe FunctionError
	if json.Unmarshal(body, &fe) == nil && fe.Type != "" {
		return nil, fmt.Errorf("rie: invoke %s: %w", p.Name, &fe)
	}
	return body, nil
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

func (p *Process) watchLine(line string) {
	if !strings.Contains(line, "INIT REPORT") {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.initLine == "" {
		p.initLine = line
	}
}

// InitReport returns the emulator's first "INIT REPORT(durationMs: …)" log
// line and the duration it gives; ok is false before the first invocation.
func (p *Process) InitReport() (line string, d time.Duration, ok bool) {
	p.mu.Lock()
	line = p.initLine
	p.mu.Unlock()
	return ParseInitReport(line)
}

// ParseInitReport extracts the duration from a line holding
// "INIT REPORT(durationMs: 12.345)".
func ParseInitReport(line string) (string, time.Duration, bool) {
	m := initReport.FindStringSubmatch(line)
	if m == nil {
		return line, 0, false
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return line, 0, false
	}
	return line, time.Duration(ms * float64(time.Millisecond)), true
}

// Logs returns the last lines of the function's output and of the
// emulator's log (without its DEBUG lines), for failure messages.
func (p *Process) Logs() string {
	return fmt.Sprintf("--- %s function output (%s):\n%s\n--- %s emulator log (%s):\n%s",
		p.Name, p.StdoutPath, tail(p.StdoutPath, 20, ""), p.Name, p.StderrPath, tail(p.StderrPath, 15, "[DEBUG]"))
}

// Stop kills the emulator's process group (the emulator and the function)
// and waits for it. Safe to call more than once. It returns an error if the
// emulator had exited on its own before.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			p.stopErr = fmt.Errorf("rie: %s exited before Stop: %v", p.Name, p.waitErr)
		default:
		}
		killGroup(p.cmd.Process)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			if p.stopErr == nil {
				p.stopErr = fmt.Errorf("rie: %s: still running 5s after SIGKILL", p.Name)
			}
		}
	})
	return p.stopErr
}

// lineWatcher copies to w and calls onLine for each complete line.
type lineWatcher struct {
	w      io.Writer
	onLine func(string)
	buf    []byte
}

func (l *lineWatcher) Write(b []byte) (int, error) {
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.onLine(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	return l.w.Write(b)
}

// freePorts returns n distinct TCP ports that were free on 127.0.0.1 a
// moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// tail returns the last n lines of the file at path, leaving out lines
// that contain skip (if not empty).
func tail(path string, n int, skip string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read: %v)", err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if skip != "" && strings.Contains(sc.Text(), skip) {
			continue
		}
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
