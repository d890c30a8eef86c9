package awssetup_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamotypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/unbundled/unbundled/infra/testkit/awssetup"
	"github.com/unbundled/unbundled/infra/testkit/emulators"
	"github.com/unbundled/unbundled/shared/secretkeys"
	"github.com/unbundled/unbundled/shared/token"
)

func repoFile(t *testing.T, rel string) []byte {
	t.Helper()
	root, err := emulators.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestLocalNamesMatchEnvJSON keeps the defaults of setup-emulators in step
// with infra/local/env.json, which sam local and the runtime-emulator test use.
func TestLocalNamesMatchEnvJSON(t *testing.T) {
	var env struct{ Parameters map[string]string }
	if err := json.Unmarshal(repoFile(t, "infra/local/env.json"), &env); err != nil {
		t.Fatalf("infra/local/env.json: %v", err)
	}
	for _, tc := range []struct{ variable, want string }{
		{"TABLE_NAME", awssetup.LocalTableName},
		{"SIGNING_KEYS_SECRET", awssetup.LocalSigningKeysSecret},
		{"SUBJECT_KEY_SECRET", awssetup.LocalSubjectKeySecret},
	} {
		if got := env.Parameters[tc.variable]; got != tc.want {
			t.Errorf("infra/local/env.json %s: got %q, want %q (the awssetup default)", tc.variable, got, tc.want)
		}
	}
}

func TestPrepareRejectsIncompleteOptions(t *testing.T) {
	full := awssetup.Options{Template: []byte("Resources: {}"), TableName: "t", SigningKeysSecret: "a", SubjectKeySecret: "b"}
	tests := []struct {
		name  string
		edit  func(*awssetup.Options)
		wants []string
	}{
		{"no template", func(o *awssetup.Options) { o.Template = nil }, []string{"template is empty"}},
		{"nothing named", func(o *awssetup.Options) { o.TableName, o.SigningKeysSecret, o.SubjectKeySecret = "", "", " " },
			[]string{"table name is required", "signing keys secret name is required", "subject key secret name is required"}},
		{"same secret twice", func(o *awssetup.Options) { o.SubjectKeySecret = o.SigningKeysSecret }, []string{"must differ"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := full
			tc.edit(&opts)
			// The empty config has no endpoint or credentials: any AWS call would fail differently.
			err := awssetup.Prepare(t.Context(), aws.Config{}, opts)
			if err == nil {
				t.Fatal("Prepare: got nil error, want an options error")
			}
			for _, want := range tc.wants {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Prepare error %q: want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestCheckEmulatorEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"both set", map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:5000", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:5000"}, ""},
		{"general endpoint", map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, ""},
		{"none", nil, "AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SECRETS_MANAGER not set"},
		{"secrets missing", map[string]string{"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:5000"}, "AWS_ENDPOINT_URL_SECRETS_MANAGER not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := awssetup.CheckEmulatorEnv(func(k string) string { return tc.env[k] })
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// fakeSecrets is an in-memory Secrets Manager: CreateSecret fails with
// ResourceExistsException for a known name, as the service does.
type fakeSecrets struct {
	values    map[string]string
	createErr error
	creates   int
}

func (f *fakeSecrets) CreateSecret(_ context.Context, in *secretsmanager.CreateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	f.creates++
	if f.createErr != nil {
		return nil, f.createErr
	}
	name := aws.ToString(in.Name)
	if _, ok := f.values[name]; ok {
		return nil, &smtypes.ResourceExistsException{Message: aws.String("already exists")}
	}
	f.values[name] = aws.ToString(in.SecretString)
	return &secretsmanager.CreateSecretOutput{Name: in.Name}, nil
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v, ok := f.values[aws.ToString(in.SecretId)]
	if !ok {
		return nil, &smtypes.ResourceNotFoundException{Message: aws.String("not found")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(v)}, nil
}

func TestEnsureSecrets(t *testing.T) {
	boom := errors.New("access denied")
	tests := []struct {
		name      string
		existing  map[string]string
		createErr error
		wantErr   string // "" means success
	}{
		{name: "creates both", existing: map[string]string{}},
		{name: "keeps valid existing", existing: map[string]string{"sign": `{"active":"k1","k1":"` + strings.Repeat("x", 40) + `"}`, "subj": strings.Repeat("y", 40)}},
		{name: "existing signing secret in another format", existing: map[string]string{"sign": "not json"}, wantErr: "check secrets sign and subj"},
		{name: "existing subject key too short", existing: map[string]string{"subj": "short"}, wantErr: "subject key"},
		{name: "create fails", existing: map[string]string{}, createErr: boom, wantErr: "create secret sign: access denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := map[string]string{}
			for k, v := range tc.existing {
				before[k] = v
			}
			f := &fakeSecrets{values: tc.existing, createErr: tc.createErr}
			err := awssetup.EnsureSecrets(t.Context(), f, "sign", "subj")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				if tc.createErr != nil && !errors.Is(err, boom) {
					t.Errorf("error %v does not wrap the client's error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("EnsureSecrets: %v", err)
			}
			for name, v := range before {
				if f.values[name] != v {
					t.Errorf("secret %s: got %q, want the existing value kept", name, f.values[name])
				}
			}
			if _, err := secretkeys.Load(t.Context(), f, "sign", "subj"); err != nil {
				t.Errorf("secretkeys.Load after EnsureSecrets: %v", err)
			}
		})
	}
}

// motoConfig starts moto and returns an AWS config that reaches it through
// the standard environment variables, as setup-emulators does.
func motoConfig(t *testing.T) aws.Config {
	t.Helper()
	moto := emulators.StartMotoForTest(t)
	for k, v := range emulators.AWSEnv(moto.Endpoint, "") {
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.Endpoint)
	if err := awssetup.CheckEmulatorEnv(os.Getenv); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatalf("load AWS config: %v", err)
	}
	return cfg
}

func TestPrepareAgainstMoto(t *testing.T) {
	cfg := motoConfig(t)
	ctx := t.Context()
	opts := awssetup.Options{
		Template:          repoFile(t, "template.yaml"),
		TableName:         awssetup.LocalTableName,
		SigningKeysSecret: awssetup.LocalSigningKeysSecret,
		SubjectKeySecret:  awssetup.LocalSubjectKeySecret,
	}
	sm := secretsmanager.NewFromConfig(cfg)

	var first token.Keys
	for run := 1; run <= 2; run++ {
		if err := awssetup.Prepare(ctx, cfg, opts); err != nil {
			t.Fatalf("Prepare, run %d: %v", run, err)
		}
		keys, err := secretkeys.Load(ctx, sm, opts.SigningKeysSecret, opts.SubjectKeySecret)
		if err != nil {
			t.Fatalf("secretkeys.Load after run %d: %v", run, err)
		}
		if got := keys.Signing.ActiveKeyID(); got != "k1" {
			t.Errorf("active signing key after run %d: got %q, want k1", run, got)
		}
		if run == 1 {
			first = keys
			continue
		}
		// The second run kept the keys: ids and tokens from the first still match.
		if got, want := keys.Subject.SubscriberID("ann@example.com"), first.Subject.SubscriberID("ann@example.com"); got != want {
			t.Errorf("subscriber id after the second run: got %q, want %q (subject key replaced)", got, want)
		}
		c := token.Claims{Purpose: "unsubscribe", Subject: "s", Scope: "m"}
		if got, want := keys.Signing.Sign(c), first.Signing.Sign(c); got != want {
			t.Errorf("token after the second run: got %q, want %q (signing key replaced)", got, want)
		}
	}

	db := dynamodb.NewFromConfig(cfg)
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(opts.TableName)})
	if err != nil {
		t.Fatalf("DescribeTable: %v", err)
	}
	if got := desc.Table.TableStatus; got != dynamotypes.TableStatusActive {
		t.Errorf("table status: got %s, want ACTIVE", got)
	}
	if got := len(desc.Table.GlobalSecondaryIndexes); got != 1 || aws.ToString(desc.Table.GlobalSecondaryIndexes[0].IndexName) != "gsi1" {
		t.Errorf("indexes: got %d, want gsi1 only", got)
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(opts.TableName)})
	if err != nil {
		t.Fatalf("DescribeTimeToLive: %v", err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || d.TimeToLiveStatus != dynamotypes.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != "expires_at" {
		t.Errorf("TTL: got %+v, want ENABLED on expires_at", d)
	}

	// A secret someone made in the wrong format is reported, not overwritten.
	bad := opts
	bad.SigningKeysSecret = "unbundled-local/wrong-format"
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(bad.SigningKeysSecret), SecretString: aws.String("k1=abc")}); err != nil {
		t.Fatal(err)
	}
	if err := awssetup.Prepare(ctx, cfg, bad); err == nil || !strings.Contains(err.Error(), bad.SigningKeysSecret) {
		t.Errorf("Prepare with a malformed existing secret: got %v, want an error naming %s", err, bad.SigningKeysSecret)
	}
}
