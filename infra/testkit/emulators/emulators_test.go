package emulators

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSigV4 is enough for both emulators: they need an AWS Authorization
// header (moto reads the region from its Credential scope) but verify no
// signature.
const fakeSigV4 = "AWS4-HMAC-SHA256 Credential=test/20260101/" + Region + "/%s/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000"

func post(t *testing.T, url, service string, headers map[string]string, body any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", strings.Replace(fakeSigV4, "%s", service, 1))
	req.Header.Set("X-Amz-Date", "20260101T000000Z")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// TestEmulators starts moto and aws-ses-v2-local from the pinned tools, uses
// each over raw HTTP, and checks that Stop leaves no process behind. It fails
// (never skips) when the tools are not installed: run `make tools`.
func TestEmulators(t *testing.T) {
	skipShort(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*StartTimeout)
	defer cancel()

	var (
		wg            sync.WaitGroup
		moto, ses     *Process
		motoErr, sErr error
	)
	wg.Add(2)
	go func() { defer wg.Done(); moto, motoErr = StartMoto(ctx) }()
	go func() { defer wg.Done(); ses, sErr = StartSES(ctx) }()
	wg.Wait()
	for _, p := range []*Process{moto, ses} {
		if p != nil {
			t.Cleanup(func() { _ = p.Stop() })
		}
	}
	if motoErr != nil {
		t.Fatal(motoErr)
	}
	if sErr != nil {
		t.Fatal(sErr)
	}
	for _, p := range []*Process{moto, ses} {
		if !strings.HasPrefix(p.Endpoint, "http://127.0.0.1:") || p.Port == 0 {
			t.Fatalf("%s: endpoint %q, port %d", p.Name, p.Endpoint, p.Port)
		}
	}
	if moto.Port == ses.Port {
		t.Fatalf("both emulators on port %d", moto.Port)
	}

	t.Run("moto DynamoDB", func(t *testing.T) {
		target := map[string]string{"Content-Type": "application/x-amz-json-1.0"}
		target["X-Amz-Target"] = "DynamoDB_20120810.CreateTable"
		code, body := post(t, moto.Endpoint+"/", "dynamodb", target, map[string]any{
			"TableName":            "emulators-test",
			"BillingMode":          "PAY_PER_REQUEST",
			"AttributeDefinitions": []map[string]string{{"AttributeName": "pk", "AttributeType": "S"}},
			"KeySchema":            []map[string]string{{"AttributeName": "pk", "KeyType": "HASH"}},
		})
		if code != http.StatusOK {
			t.Fatalf("CreateTable: HTTP %d: %s", code, body)
		}
		target["X-Amz-Target"] = "DynamoDB_20120810.ListTables"
		code, body = post(t, moto.Endpoint+"/", "dynamodb", target, map[string]any{})
		if code != http.StatusOK {
			t.Fatalf("ListTables: HTTP %d: %s", code, body)
		}
		var lt struct{ TableNames []string }
		if err := json.Unmarshal(body, &lt); err != nil {
			t.Fatalf("ListTables: %v: %s", err, body)
		}
		if len(lt.TableNames) != 1 || lt.TableNames[0] != "emulators-test" {
			t.Fatalf("ListTables = %v, want [emulators-test]", lt.TableNames)
		}
	})

	t.Run("SES v2 SendEmail to /store", func(t *testing.T) {
		const unsub = "<https://example.com/unsubscribe?t=abc>, <mailto:unsubscribe@example.com?subject=t-abc>"
		// SESv2 SendEmail as the AWS SDK sends it: POST /v2/email/outbound-emails, JSON body.
		code, body := post(t, ses.Endpoint+"/v2/email/outbound-emails", "ses",
			map[string]string{"Content-Type": "application/json"},
			map[string]any{
				"FromEmailAddress": "Example <noreply@example.com>",
				"Destination":      map[string]any{"ToAddresses": []string{"reader@example.org"}},
				"ReplyToAddresses": []string{"help@example.com"},
				"Content": map[string]any{"Simple": map[string]any{
					"Subject": map[string]string{"Data": "Your freebie", "Charset": "UTF-8"},
					"Body": map[string]any{
						"Text": map[string]string{"Data": "Download: https://example.com/f", "Charset": "UTF-8"},
						"Html": map[string]string{"Data": "<p>Download</p>", "Charset": "UTF-8"},
					},
					"Headers": []map[string]string{
						{"Name": "List-Unsubscribe", "Value": unsub},
						{"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
					},
				}},
			})
		if code != http.StatusOK {
			t.Fatalf("SendEmail: HTTP %d: %s", code, body)
		}
		var sent struct{ MessageId string }
		if err := json.Unmarshal(body, &sent); err != nil || sent.MessageId == "" {
			t.Fatalf("SendEmail answer %s: %v", body, err)
		}

		msgs, err := SESStore(ctx, ses.Endpoint)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 {
			t.Fatalf("store has %d emails, want 1: %+v", len(msgs), msgs)
		}
		m := msgs[0]
		if m.MessageID != sent.MessageId {
			t.Errorf("messageId = %q, want %q", m.MessageID, sent.MessageId)
		}
		if m.From != "Example <noreply@example.com>" {
			t.Errorf("from = %q", m.From)
		}
		if len(m.Destination.To) != 1 || m.Destination.To[0] != "reader@example.org" {
			t.Errorf("destination.to = %v", m.Destination.To)
		}
		if len(m.ReplyTo) != 1 || m.ReplyTo[0] != "help@example.com" {
			t.Errorf("replyTo = %v", m.ReplyTo)
		}
		if m.Subject != "Your freebie" {
			t.Errorf("subject = %q", m.Subject)
		}
		if m.Body.Text != "Download: https://example.com/f" || m.Body.HTML != "<p>Download</p>" {
			t.Errorf("body = %+v", m.Body)
		}
		if got, ok := m.Header("list-unsubscribe"); !ok || got != unsub {
			t.Errorf("List-Unsubscribe = %q, %v; want %q", got, ok, unsub)
		}
		if got, _ := m.Header("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
			t.Errorf("List-Unsubscribe-Post = %q", got)
		}
		if m.At < time.Now().Add(-time.Hour).Unix() {
			t.Errorf("at = %d", m.At)
		}

		if err := ClearSESStore(ctx, ses.Endpoint); err != nil {
			t.Fatal(err)
		}
		if msgs, err := SESStore(ctx, ses.Endpoint); err != nil || len(msgs) != 0 {
			t.Fatalf("after clear: %d emails, %v", len(msgs), err)
		}
	})

	for _, p := range []*Process{moto, ses} {
		logPath := p.LogPath
		if err := p.Stop(); err != nil {
			t.Fatalf("%s: Stop: %v", p.Name, err)
		}
		if err := p.Stop(); err != nil {
			t.Fatalf("%s: second Stop: %v", p.Name, err)
		}
		if !p.Exited() || !groupGone(p.pid) {
			t.Fatalf("%s: process group %d still running after Stop", p.Name, p.pid)
		}
		if _, err := os.Stat(logPath); err == nil {
			t.Errorf("%s: log %s not removed after a clean Stop", p.Name, logPath)
		}
		c := http.Client{Timeout: time.Second}
		if resp, err := c.Get(p.Endpoint + "/"); err == nil {
			resp.Body.Close()
			t.Errorf("%s: %s still answers after Stop", p.Name, p.Endpoint)
		}
	}
}

// TestForTestHelpers checks the t.Cleanup-based helpers.
func TestForTestHelpers(t *testing.T) {
	skipShort(t)
	var moto, ses *Process
	t.Run("start", func(t *testing.T) {
		moto = StartMotoForTest(t)
		ses = StartSESForTest(t)
		if _, err := SESStore(t.Context(), ses.Endpoint); err != nil {
			t.Fatal(err)
		}
	})
	for _, p := range []*Process{moto, ses} {
		if p == nil {
			t.Fatal("emulator did not start")
		}
		if !p.Exited() || !groupGone(p.pid) {
			t.Errorf("%s: still running after its test's cleanup", p.Name)
		}
	}
}

// TestMissingTools checks that a missing tool is reported by path, with the
// command that installs it.
func TestMissingTools(t *testing.T) {
	root := t.TempDir()
	for _, s := range []spec{motoSpec(), sesSpec()} {
		p, err := start(t.Context(), root, s, t.TempDir())
		if err == nil {
			_ = p.Stop()
			t.Fatalf("%s started without its tool", s.name)
		}
		want := filepath.Join(root, filepath.FromSlash(s.tools[0]))
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "make tools") {
			t.Errorf("%s: error %q should name %s and say `make tools`", s.name, err, want)
		}
	}
}

// TestStartFailureReportsLog checks that an emulator that exits at once is
// reported with its log.
func TestStartFailureReportsLog(t *testing.T) {
	root := t.TempDir()
	script := filepath.Join(root, "fail.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho boom-from-emulator >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := motoSpec()
	s.tools = []string{"fail.sh"}
	logDir := t.TempDir()
	_, err := start(t.Context(), root, s, logDir)
	if err == nil {
		t.Fatal("start succeeded")
	}
	if !strings.Contains(err.Error(), "boom-from-emulator") || !strings.Contains(err.Error(), logDir) {
		t.Errorf("error %q should include the log path and its tail", err)
	}
}

func TestRepoRoot(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "infra", "testkit", "emulators")); err != nil {
		t.Fatalf("root %s does not contain infra/testkit/emulators: %v", root, err)
	}
}

func TestAWSEnv(t *testing.T) {
	env := AWSEnv("http://127.0.0.1:1", "")
	want := map[string]string{
		"AWS_REGION":                "eu-west-2",
		"AWS_ACCESS_KEY_ID":         "test",
		"AWS_SECRET_ACCESS_KEY":     "test",
		"AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:1",
	}
	if len(env) != len(want) {
		t.Fatalf("AWSEnv = %v, want %v", env, want)
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if env := AWSEnv("", "http://127.0.0.1:2"); env["AWS_ENDPOINT_URL_SESV2"] != "http://127.0.0.1:2" || env["AWS_ENDPOINT_URL_DYNAMODB"] != "" {
		t.Errorf("AWSEnv(\"\", ses) = %v", env)
	}
}

// skipShort skips tests that start the real emulators under -short.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: starts moto and aws-ses-v2-local; `make test` runs this test")
	}
}
