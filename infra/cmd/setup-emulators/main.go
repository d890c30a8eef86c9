// Command setup-emulators creates the consent table (from template.yaml) and
// the two secrets the functions need in a local moto, with the names
// infra/local/env.json gives them, so `sam local start-api` and
// `go run ./infra/local -store dynamodb` find them. Safe to run again: what
// exists is kept, and existing secrets are checked.
//
//	.tools/venv/bin/moto_server -H 0.0.0.0 -p 5000 &                        # env.json: host.docker.internal:5000
//	node infra/tools/node_modules/aws-ses-v2-local/dist/cli.js --port 8005 &  # env.json: host.docker.internal:8005
//	AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:5000 \
//	AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:5000 \
//	AWS_REGION=eu-west-2 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
//	go run ./infra/cmd/setup-emulators
//	.tools/venv/bin/sam local start-api   # after make sam-build; reads infra/local/env.json
//
// It refuses to run unless those endpoint variables (or AWS_ENDPOINT_URL)
// are set, so it never creates resources in a real account by accident.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/unbundled/unbundled/infra/testkit/awssetup"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "setup-emulators:", err)
		os.Exit(1)
	}
}

func run() error {
	template := flag.String("template", "template.yaml", "SAM template whose "+awssetup.TableResource+" defines the table")
	opts := awssetup.Options{}
	flag.StringVar(&opts.TableName, "table", awssetup.LocalTableName, "DynamoDB table to create (TABLE_NAME)")
	flag.StringVar(&opts.SigningKeysSecret, "signing-secret", awssetup.LocalSigningKeysSecret, "signing keys secret to create (SIGNING_KEYS_SECRET)")
	flag.StringVar(&opts.SubjectKeySecret, "subject-secret", awssetup.LocalSubjectKeySecret, "subject key secret to create (SUBJECT_KEY_SECRET)")
	flag.Parse()

	if err := awssetup.CheckEmulatorEnv(os.Getenv); err != nil {
		return err
	}
	var err error
	if opts.Template, err = os.ReadFile(*template); err != nil {
		return fmt.Errorf("read template: %w", err)
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS config: %w", err)
	}
	if err := awssetup.Prepare(ctx, cfg, opts); err != nil {
		return err
	}
	fmt.Printf("ready: table %s, secrets %s and %s\n", opts.TableName, opts.SigningKeysSecret, opts.SubjectKeySecret)
	return nil
}
