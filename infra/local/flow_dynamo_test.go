package main_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/unbundled/unbundled/infra/testkit/awssetup"
	"github.com/unbundled/unbundled/infra/testkit/emulators"
	"github.com/unbundled/unbundled/shared/dynamostore"
	"github.com/unbundled/unbundled/shared/token"
)

// TestLocalServerWithDynamoDB runs the server binary with -store dynamodb
// against moto, prepared as setup-emulators prepares it, and checks that
// the ledger lands in the table (and not in an SQLite file).
func TestLocalServerWithDynamoDB(t *testing.T) {
	moto := emulators.StartMotoForTest(t)
	// The server process inherits these: the standard AWS environment.
	for k, v := range emulators.AWSEnv(moto.Endpoint, "") {
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.Endpoint)
	root, err := emulators.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	template, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const table = "unbundled-local-flow"
	if err := awssetup.Prepare(ctx, cfg, awssetup.Options{
		Template: template, TableName: table,
		SigningKeysSecret: awssetup.LocalSigningKeysSecret, SubjectKeySecret: awssetup.LocalSubjectKeySecret,
	}); err != nil {
		t.Fatal(err)
	}

	dataDir := t.TempDir()
	s := start(t, dataDir, "-store", "dynamodb", "-table", table)

	resp, _ := s.do(t, "POST", "/signup", formType, "email=dora%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-up: got status %d, want 303", resp.StatusCode)
	}
	events := s.ledger(t, "dora@example.com")
	if got, want := types(events), "signup,granted"; got != want {
		t.Fatalf("ledger.json: got %s, want %s", got, want)
	}
	if e := events[0]; e.SourceIP != "127.0.0.1" || e.RequestID == "" {
		t.Errorf("signup evidence: got source_ip %q request_id %q, want 127.0.0.1 and an id", e.SourceIP, e.RequestID)
	}

	// The events are in DynamoDB, under the subscriber id from the data
	// directory's keys.
	keys, err := token.LoadOrCreateFile(filepath.Join(dataDir, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	store := dynamostore.New(dynamodb.NewFromConfig(cfg), table)
	stored, err := store.Events(ctx, keys.Subject.SubscriberID("dora@example.com"))
	if err != nil {
		t.Fatalf("read the table: %v", err)
	}
	if len(stored) != 2 || stored[0].Type != "signup" || stored[1].Type != "granted" {
		t.Errorf("table holds %d events for dora, want signup then granted: %+v", len(stored), stored)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "unbundled.db")); err == nil {
		t.Errorf("-store dynamodb still created unbundled.db in the data directory")
	}

	// The emailed one-click link withdraws in the table too.
	box := s.mailbox(t)
	if len(box) != 1 {
		t.Fatalf("mailbox has %d messages, want 1", len(box))
	}
	unsub := strings.TrimPrefix(strings.Trim(box[0].Headers["List-Unsubscribe"], "<>"), s.base)
	if resp, _ := s.do(t, "POST", unsub, formType, "List-Unsubscribe=One-Click"); resp.StatusCode != http.StatusOK {
		t.Fatalf("one-click POST: got %d, want 200", resp.StatusCode)
	}
	if got, want := types(s.ledger(t, "dora@example.com")), "signup,granted,withdrawn"; got != want {
		t.Errorf("ledger.json after one-click: got %s, want %s", got, want)
	}
}

// TestLocalServerRefusesBadStore checks that a store the server cannot use
// fails at start with a message that says what to do.
func TestLocalServerRefusesBadStore(t *testing.T) {
	moto := emulators.StartMotoForTest(t)
	env := os.Environ()
	for k, v := range emulators.AWSEnv(moto.Endpoint, "") {
		env = append(env, k+"="+v)
	}
	tests := []struct {
		name  string
		flags []string
		wants []string
	}{
		{"unknown kind", []string{"-store", "mysql"}, []string{`-store "mysql"`, "sqlite", "dynamodb"}},
		{"missing table", []string{"-store", "dynamodb", "-table", "no-such-table"}, []string{"no-such-table", "setup-emulators"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			args := append([]string{"-addr", "127.0.0.1:0", "-data", t.TempDir()}, tc.flags...)
			cmd := exec.CommandContext(ctx, binary, args...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err == nil || ctx.Err() != nil {
				t.Fatalf("server with %v: got %v, want it to exit with an error:\n%s", tc.flags, err, out)
			}
			for _, want := range tc.wants {
				if !strings.Contains(string(out), want) {
					t.Errorf("output %q: want it to mention %q", out, want)
				}
			}
		})
	}
}
