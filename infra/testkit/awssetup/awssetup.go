// Package awssetup creates what the functions expect to find in an AWS
// account, for local emulators (moto) and tests: the consent table, built
// from template.yaml's ConsentTable, and the two Secrets Manager secrets
// with freshly generated keys in the formats shared/secretkeys reads.
//
// Everything is idempotent: a table or secret that already exists is kept
// as it is (existing keys are never replaced, so links already sent keep
// working), and Prepare then checks that the secrets load.
//
// On AWS itself the stack creates these resources; this package is for
// emulators, where nothing else does.
package awssetup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamotypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/unbundled/unbundled/shared/secretkeys"
	"github.com/unbundled/unbundled/shared/token"
)

// TableResource is the logical id of the table in template.yaml.
const TableResource = "ConsentTable"

// The names infra/local/env.json gives the functions for `sam local` and the
// runtime-emulator tests (a test keeps them in step with the file).
const (
	LocalTableName         = "unbundled-local"
	LocalSigningKeysSecret = "unbundled-local/signing-keys"
	LocalSubjectKeySecret  = "unbundled-local/subject-key"
)

// tableWait bounds the wait for a table that someone else is creating.
const tableWait = 2 * time.Minute

// Options name what Prepare creates.
type Options struct {
	// Template is the SAM template (template.yaml) whose TableResource
	// defines the table.
	Template []byte
	// TableName is the DynamoDB table to create.
	TableName string
	// SigningKeysSecret and SubjectKeySecret are the names of the Secrets
	// Manager secrets to create (the functions' SIGNING_KEYS_SECRET and
	// SUBJECT_KEY_SECRET).
	SigningKeysSecret string
	SubjectKeySecret  string
}

func (o Options) check() error {
	var errs []error
	if len(o.Template) == 0 {
		errs = append(errs, errors.New("template is empty"))
	}
	for _, f := range []struct{ name, value string }{
		{"table name", o.TableName},
		{"signing keys secret name", o.SigningKeysSecret},
		{"subject key secret name", o.SubjectKeySecret},
	} {
		if strings.TrimSpace(f.value) == "" {
			errs = append(errs, fmt.Errorf("%s is required", f.name))
		}
	}
	if o.SigningKeysSecret != "" && o.SigningKeysSecret == o.SubjectKeySecret {
		errs = append(errs, fmt.Errorf("the signing keys and subject key secrets must differ (both %q)", o.SigningKeysSecret))
	}
	return errors.Join(errs...)
}

// SecretsAPI is the part of the Secrets Manager client Prepare uses.
type SecretsAPI interface {
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	secretkeys.API
}

// Prepare creates the table and the two secrets named by opts, through
// clients built from cfg (so the standard AWS_ENDPOINT_URL_DYNAMODB and
// AWS_ENDPOINT_URL_SECRETS_MANAGER variables pick the emulator), keeping any
// that already exist. It fails if opts is incomplete, a call fails, or the
// secrets (new or existing) are not in the format the functions read.
func Prepare(ctx context.Context, cfg aws.Config, opts Options) error {
	if err := opts.check(); err != nil {
		return fmt.Errorf("awssetup: %w", err)
	}
	if err := EnsureTable(ctx, dynamodb.NewFromConfig(cfg), opts.Template, opts.TableName); err != nil {
		return fmt.Errorf("awssetup: %w", err)
	}
	if err := EnsureSecrets(ctx, secretsmanager.NewFromConfig(cfg), opts.SigningKeysSecret, opts.SubjectKeySecret); err != nil {
		return fmt.Errorf("awssetup: %w", err)
	}
	return nil
}

// EnsureTable creates table name as template's TableResource describes it
// (keys, index, billing mode, stream, TTL) and waits until it is active. If the
// table already exists it only waits for it to be active; it does not
// compare or change its definition.
func EnsureTable(ctx context.Context, client TableAdminAPI, template []byte, name string) error {
	in, err := CreateTableInputFromTemplate(template, TableResource, name)
	if err != nil {
		return fmt.Errorf("table definition: %w", err)
	}
	ttl, err := TTLAttributeFromTemplate(template, TableResource)
	if err != nil {
		return fmt.Errorf("table TTL attribute: %w", err)
	}
	err = CreateTable(ctx, client, in, ttl)
	var inUse *dynamotypes.ResourceInUseException
	if !errors.As(err, &inUse) {
		return err // nil, or CreateTable's error, which names the table
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Second, 5*time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, tableWait); err != nil {
		return fmt.Errorf("wait for existing table %s: %w", name, err)
	}
	return nil
}

// EnsureSecrets creates the signing-keys secret (flat JSON
// {"active":"k1","k1":"<random>"}) and the subject-key secret (a random
// string) unless a secret of that name exists, then checks that both load
// as the functions load them (secretkeys.Load).
func EnsureSecrets(ctx context.Context, client SecretsAPI, signingName, subjectName string) error {
	signing, err := json.Marshal(map[string]string{"active": "k1", "k1": token.NewSecret()})
	if err != nil {
		return fmt.Errorf("encode signing keys: %w", err)
	}
	if err := createSecret(ctx, client, signingName, "unbundled link-signing keys (local)", string(signing)); err != nil {
		return err
	}
	if err := createSecret(ctx, client, subjectName, "unbundled subscriber-id key (local, never rotate)", token.NewSecret()); err != nil {
		return err
	}
	if _, err := secretkeys.Load(ctx, client, signingName, subjectName); err != nil {
		return fmt.Errorf("check secrets %s and %s: %w", signingName, subjectName, err)
	}
	return nil
}

// createSecret creates secret name with value; an existing secret of that
// name is kept unchanged. (CreateSecret itself is the existence check, so
// two concurrent runs cannot both create it.)
func createSecret(ctx context.Context, client SecretsAPI, name, description, value string) error {
	_, err := client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		Description:  aws.String(description),
		SecretString: aws.String(value),
	})
	var exists *smtypes.ResourceExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("create secret %s: %w", name, err)
	}
	return nil
}

// endpointVariables must be set before Prepare runs against emulators.
var endpointVariables = []string{"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER"}

// CheckEmulatorEnv fails, naming every missing variable, unless getenv gives
// the DynamoDB and Secrets Manager endpoint overrides (or the general
// AWS_ENDPOINT_URL), so that a tool meant for emulators does not create
// resources in a real AWS account by accident.
func CheckEmulatorEnv(getenv func(string) string) error {
	if getenv("AWS_ENDPOINT_URL") != "" {
		return nil
	}
	var missing []string
	for _, name := range endpointVariables {
		if getenv(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("awssetup: %s not set: point them at the emulator, e.g. %s=http://127.0.0.1:5000",
			strings.Join(missing, " and "), missing[0])
	}
	return nil
}
