package main_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogsHoldNoPersonalData runs a whole life — sign-up, confirmation,
// delivery, unsubscribe, a self-service data request, then the operator's
// proof, export, erasure and a retention run — and fails if the local
// server's log or the operator command's log (stderr) holds the address,
// the name, a link token or key material. (The functions' logs are checked
// the same way under the runtime emulator: infra/testkit/rie.) The IP
// address of this flow is loopback, which the log may not hold either.
func TestLogsHoldNoPersonalData(t *testing.T) {
	dataDir := t.TempDir()
	var serverLog syncBuffer
	s := startLogging(t, dataDir, &serverLog)
	const (
		address = "zebedee.logcheck@example.com"
		name    = "Zebedee Quillfeather"
	)
	var cliLog strings.Builder
	run := func(args ...string) string {
		t.Helper()
		head := 1 // the command; "retention run" is two words
		if args[0] == "retention" {
			head = 2
		}
		full := append(args[:head:head], append([]string{"-data", dataDir, "-magnets", "magnets.json", "-base-url", s.base}, args[head:]...)...)
		cmd := exec.Command(buildCLI(t), full...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cliLog.WriteString(stderr.String())
		if err != nil {
			t.Fatalf("unbundled %s: %v\n%s", strings.Join(full, " "), err, stderr.String())
		}
		return string(out)
	}
	var tokens []string
	linkTo := func(text, path string) string {
		t.Helper()
		p := linkPath(t, s, text, path)
		if u, err := url.Parse(p); err == nil {
			tokens = append(tokens, u.Query().Get("t"))
		}
		return p
	}

	resp, _ := s.do(t, "POST", "/signup", formType, "email="+url.QueryEscape(address)+"&name="+url.QueryEscape(name)+"&magnet=uk-gdpr-checklist&marketing_consent=yes")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-up: %d", resp.StatusCode)
	}
	freebie := lastMailTo(t, s, address)
	confirm := linkTo(freebie.Text, "/confirm")
	s.do(t, "GET", confirm, "", "")
	if resp, _ := s.do(t, "POST", confirm, formType, "confirm=yes"); resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %d", resp.StatusCode)
	}
	unsubscribe := linkTo(lastMailTo(t, s, address).Text, "/unsubscribe")
	s.do(t, "GET", unsubscribe, "", "")
	if resp, _ := s.do(t, "POST", unsubscribe, formType, "List-Unsubscribe=One-Click"); resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click unsubscribe: %d", resp.StatusCode)
	}
	if resp, _ := s.do(t, "POST", "/privacy", formType, "email="+url.QueryEscape(address)+"&request=export"); resp.StatusCode != http.StatusOK {
		t.Fatalf("data request: %d", resp.StatusCode)
	}
	dataLink := linkTo(lastMailTo(t, s, address).Text, "/privacy/confirm")
	if resp, body := s.do(t, "POST", dataLink, formType, "confirm=yes"); resp.StatusCode != http.StatusOK || !strings.Contains(body, name) {
		t.Fatalf("data page: %d", resp.StatusCode)
	}

	if out := run("proof", address); !strings.Contains(out, name) {
		t.Errorf("proof does not name the person:\n%.300s", out)
	}
	run("export", address)
	run("may-email", address)
	run("erase", "-reason", "erasure request by letter", address)
	run("retention", "run", "-dry-run")
	run("retention", "run")
	s.waitOutbox(t)

	keys, err := os.ReadFile(filepath.Join(dataDir, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := keyMaterial(t, keys)
	logs := map[string]string{"local server": serverLog.String(), "operator command": cliLog.String()}
	if !strings.Contains(logs["local server"], `"msg":"request"`) {
		t.Fatalf("captured no server log:\n%.500s", logs["local server"])
	}
	for source, log := range logs {
		for what, value := range map[string]string{"address": address, "local part": "zebedee.logcheck", "name": "Quillfeather", "IP address": "127.0.0.1"} {
			if strings.Contains(log, value) {
				t.Errorf("%s log holds the %s %q", source, what, value)
			}
		}
		for _, tok := range tokens {
			if tok != "" && strings.Contains(log, tok) {
				t.Errorf("%s log holds a link token", source)
			}
		}
		for _, key := range secrets {
			if strings.Contains(log, key) {
				t.Errorf("%s log holds key material from keys.json", source)
			}
		}
	}
}

// keyMaterial is every string of 16 or more characters in keys.json: the
// signing keys and the subject key.
func keyMaterial(t *testing.T, data []byte) []string {
	t.Helper()
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		case string:
			if len(v) >= 16 {
				out = append(out, v)
			}
		}
	}
	walk(doc)
	if len(out) == 0 {
		t.Fatalf("no key material found in keys.json")
	}
	return out
}
