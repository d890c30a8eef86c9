package awssetup_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/unbundled/unbundled/infra/testkit/awssetup"
)

func repoTemplate(t testing.TB) []byte {
	t.Helper()
	data, err := awssetup.RepoTemplate()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestTemplateTable pins the table the store's key design relies on to the
// real template.
func TestTemplateTable(t *testing.T) {
	in, err := awssetup.CreateTableInputFromTemplate(repoTemplate(t), "ConsentTable", "consent-test")
	if err != nil {
		t.Fatalf("CreateTableInputFromTemplate: %v", err)
	}
	if got := aws.ToString(in.TableName); got != "consent-test" {
		t.Errorf("TableName: got %q, want consent-test", got)
	}
	if in.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("BillingMode: got %q, want %q", in.BillingMode, types.BillingModePayPerRequest)
	}
	attrs := map[string]types.ScalarAttributeType{}
	for _, a := range in.AttributeDefinitions {
		attrs[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	for _, name := range []string{"pk", "sk", "gsi1pk", "gsi1sk"} {
		if attrs[name] != types.ScalarAttributeTypeS {
			t.Errorf("attribute %s: got type %q, want S", name, attrs[name])
		}
	}
	if len(attrs) != 4 {
		t.Errorf("AttributeDefinitions: got %d, want 4 (every one must be a key)", len(attrs))
	}
	if got, want := keys(in.KeySchema), "pk HASH, sk RANGE"; got != want {
		t.Errorf("KeySchema: got %q, want %q", got, want)
	}
	if len(in.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("GlobalSecondaryIndexes: got %d, want 1", len(in.GlobalSecondaryIndexes))
	}
	g := in.GlobalSecondaryIndexes[0]
	if aws.ToString(g.IndexName) != "gsi1" || keys(g.KeySchema) != "gsi1pk HASH, gsi1sk RANGE" ||
		g.Projection == nil || g.Projection.ProjectionType != types.ProjectionTypeAll {
		t.Errorf("index: got %s (%s) projection %+v, want gsi1 (gsi1pk HASH, gsi1sk RANGE) projecting ALL",
			aws.ToString(g.IndexName), keys(g.KeySchema), g.Projection)
	}
	// New delivery jobs reach the deliver function through the stream.
	if s := in.StreamSpecification; s == nil || !aws.ToBool(s.StreamEnabled) || s.StreamViewType != types.StreamViewTypeNewImage {
		t.Errorf("StreamSpecification: got %+v, want enabled with NEW_IMAGE", s)
	}

	ttl, err := awssetup.TTLAttributeFromTemplate(repoTemplate(t), "ConsentTable")
	if err != nil || ttl != "expires_at" {
		t.Errorf("TTLAttributeFromTemplate: got %q, %v, want expires_at, nil", ttl, err)
	}
}

func keys(ks []types.KeySchemaElement) string {
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = aws.ToString(k.AttributeName) + " " + string(k.KeyType)
	}
	return strings.Join(parts, ", ")
}

const minimalTable = `
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "${AWS::StackName}-files"
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-t"
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
Outputs:
  Arn: {Value: !GetAtt T.Arn}
`

func TestCreateTableInputFromTemplate(t *testing.T) {
	tests := []struct {
		name      string
		template  string
		logicalID string
		wantErr   string // substring; "" for success
	}{
		{"tags elsewhere are fine", minimalTable, "T", ""},
		{"missing resource", minimalTable, "Nope", "no resource Nope"},
		{"wrong type", minimalTable, "Bucket", "want Type AWS::DynamoDB::Table"},
		{"not YAML", "Resources: [", "T", "parse template"},
		{"empty", "", "T", "empty document"},
		{"no key schema", "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BillingMode: PAY_PER_REQUEST\n", "T", "empty KeySchema"},
		{"intrinsic in a property read", "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BillingMode: !Ref Mode\n      KeySchema: [{AttributeName: id, KeyType: HASH}]\n", "T", "!Ref"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := awssetup.CreateTableInputFromTemplate([]byte(tc.template), tc.logicalID, "x")
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
			case tc.wantErr != "":
				return
			}
			want := &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage}
			if got := in.StreamSpecification; got == nil || !aws.ToBool(got.StreamEnabled) || got.StreamViewType != want.StreamViewType {
				t.Errorf("StreamSpecification: got %+v, want %+v", got, want)
			}
			if in.BillingMode != types.BillingModePayPerRequest || keys(in.KeySchema) != "id HASH" {
				t.Errorf("got billing %q keys %q, want PAY_PER_REQUEST, id HASH", in.BillingMode, keys(in.KeySchema))
			}
			if ttl, err := awssetup.TTLAttributeFromTemplate([]byte(tc.template), tc.logicalID); err != nil || ttl != "" {
				t.Errorf("TTLAttributeFromTemplate without TTL: got %q, %v, want \"\", nil", ttl, err)
			}
		})
	}
}

var _ awssetup.TableAdminAPI = (*dynamodb.Client)(nil)
