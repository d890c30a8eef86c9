package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/dynamostore"
)

// Store kinds the local server's -store flag accepts.
const (
	StoreSQLite   = "sqlite"   // the embedded SQLite file in the data directory
	StoreDynamoDB = "dynamodb" // a DynamoDB table, on AWS or an emulator
)

// OpenStore returns the store for Options.Store that kind names: nil for
// StoreSQLite (New then opens the embedded file), or for StoreDynamoDB the
// DynamoDB store on table, reached with the standard AWS environment
// (AWS_REGION, credentials, AWS_ENDPOINT_URL_DYNAMODB for an emulator). It
// checks that the table exists, so a missing table fails at start, not on
// the first sign-up.
func OpenStore(ctx context.Context, kind, table string) (consent.Store, error) {
	switch kind {
	case StoreSQLite:
		return nil, nil
	case StoreDynamoDB:
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
		return nil, fmt.Errorf("-store %q: want %s or %s", kind, StoreSQLite, StoreDynamoDB)
	}
}
