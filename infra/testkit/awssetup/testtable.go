package awssetup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// RepoTemplate reads template.yaml from the module root, found by walking up
// from the working directory to go.mod (go test runs each package in its own
// directory).
func RepoTemplate() ([]byte, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
	data, err := os.ReadFile(filepath.Join(dir, "template.yaml"))
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	return data, nil
}

// TestTableAPI is what NewTestTable needs of the DynamoDB client.
type TestTableAPI interface {
	TableAdminAPI
	DeleteTable(ctx context.Context, in *dynamodb.DeleteTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error)
}

var testTables atomic.Int64

// NewTestTable creates a fresh table as template.yaml's TableResource
// describes it (TTL enabled as there), under a name unique to this process,
// and deletes it when the test ends.
func NewTestTable(t testing.TB, client TestTableAPI) string {
	t.Helper()
	tmpl, err := RepoTemplate()
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("consent-%d-%d", os.Getpid(), testTables.Add(1))
	in, err := CreateTableInputFromTemplate(tmpl, TableResource, name)
	if err != nil {
		t.Fatal(err)
	}
	ttl, err := TTLAttributeFromTemplate(tmpl, TableResource)
	if err != nil {
		t.Fatal(err)
	}
	if err := CreateTable(context.Background(), client, in, ttl); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("delete table %s: %v", name, err)
		}
	})
	return name
}
