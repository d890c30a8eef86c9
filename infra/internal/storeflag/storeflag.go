// Package storeflag opens the store the -store and -table flags name, for
// the local server and the operator command alike.
package storeflag

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/dynamostore"
)

// Store kinds the -store flag accepts.
const (
	SQLite   = "sqlite"   // the embedded SQLite file in the data directory
	DynamoDB = "dynamodb" // a DynamoDB table, on AWS or an emulator
)

// Open returns the store kind names: nil for SQLite (the caller opens the
// embedded file in its data directory), or for DynamoDB the
// DynamoDB store on table, reached with the standard AWS environment
// (AWS_REGION, credentials, AWS_ENDPOINT_URL_DYNAMODB for an emulator). It
// checks that the table exists, so a missing table fails at start, not on
// the first sign-up.
func Open(ctx context.Context, kind, table string) (consent.Store, error) {
	switch kind {
	case SQLite:
		return nil, nil
	case DynamoDB:
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("-store dynamodb: load AWS config: %w", err)
		}
		client := dynamodb.NewFromConfig(cfg)
		if _, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err != nil {
			return nil, fmt.Errorf("-store dynamodb: table %s (on emulators, create it with `go run ./infra/cmd/setup-emulators`): %w", table, err)
		}
		return dynamostore.New(client, table), nil
	default:
		return nil, fmt.Errorf("-store %q: want %s or %s", kind, SQLite, DynamoDB)
	}
}
