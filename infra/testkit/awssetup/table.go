package awssetup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"gopkg.in/yaml.v3"
)

// TableAdminAPI is the part of the DynamoDB client that creates tables. Only
// tests and infrastructure tools use it; the functions never create tables.
type TableAdminAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// createWait bounds how long CreateTable waits for a new table to be ACTIVE.
const createWait = 5 * time.Minute

// CreateTable creates the table described by in, waits until it is ACTIVE
// and, if ttlAttr is not empty, enables TTL on that attribute. It fails if
// the table already exists (the error wraps *types.ResourceInUseException).
func CreateTable(ctx context.Context, client TableAdminAPI, in *dynamodb.CreateTableInput, ttlAttr string) error {
	name := aws.ToString(in.TableName)
	if _, err := client.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = time.Second, 10*time.Second
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName}, createWait); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	if ttlAttr == "" {
		return nil
	}
	_, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               in.TableName,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(ttlAttr), Enabled: aws.Bool(true)},
	})
	if err != nil {
		return fmt.Errorf("enable TTL on table %s: %w", name, err)
	}
	return nil
}

// cfnTable holds the Properties of an AWS::DynamoDB::Table resource that a
// CreateTableInput needs. Properties not listed here (point-in-time
// recovery, encryption, deletion protection) are deployment concerns and
// are ignored, so test tables can be deleted.
type cfnTable struct {
	BillingMode          string `yaml:"BillingMode"`
	AttributeDefinitions []struct {
		AttributeName string `yaml:"AttributeName"`
		AttributeType string `yaml:"AttributeType"`
	} `yaml:"AttributeDefinitions"`
	KeySchema              []cfnKey `yaml:"KeySchema"`
	GlobalSecondaryIndexes []struct {
		IndexName  string   `yaml:"IndexName"`
		KeySchema  []cfnKey `yaml:"KeySchema"`
		Projection struct {
			ProjectionType   string   `yaml:"ProjectionType"`
			NonKeyAttributes []string `yaml:"NonKeyAttributes"`
		} `yaml:"Projection"`
	} `yaml:"GlobalSecondaryIndexes"`
	StreamSpecification *struct {
		StreamViewType string `yaml:"StreamViewType"`
	} `yaml:"StreamSpecification"`
	TimeToLiveSpecification *struct {
		AttributeName string `yaml:"AttributeName"`
		Enabled       bool   `yaml:"Enabled"`
	} `yaml:"TimeToLiveSpecification"`
}

type cfnKey struct {
	AttributeName string `yaml:"AttributeName"`
	KeyType       string `yaml:"KeyType"`
}

func keySchema(keys []cfnKey) ([]types.KeySchemaElement, error) {
	if len(keys) == 0 {
		return nil, errors.New("empty KeySchema")
	}
	out := make([]types.KeySchemaElement, len(keys))
	for i, k := range keys {
		if k.AttributeName == "" || k.KeyType == "" {
			return nil, fmt.Errorf("KeySchema entry %d: AttributeName and KeyType are required", i)
		}
		out[i] = types.KeySchemaElement{AttributeName: aws.String(k.AttributeName), KeyType: types.KeyType(k.KeyType)}
	}
	return out, nil
}

// CreateTableInputFromTemplate builds the CreateTableInput for the
// AWS::DynamoDB::Table resource logicalID of a CloudFormation/SAM template,
// named tableName: attribute definitions, key schema, global secondary
// indexes, billing mode and stream specification. Short-form intrinsic tags
// (!Ref, !Sub, !GetAtt...) elsewhere in the template are fine; inside the
// properties read here they are an error, as is a missing resource, a
// resource of another type or a missing key schema.
func CreateTableInputFromTemplate(templateYAML []byte, logicalID, tableName string) (*dynamodb.CreateTableInput, error) {
	t, err := tableFromTemplate(templateYAML, logicalID)
	if err != nil {
		return nil, err
	}
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(tableName),
		BillingMode: types.BillingMode(t.BillingMode),
	}
	for i, a := range t.AttributeDefinitions {
		if a.AttributeName == "" || a.AttributeType == "" {
			return nil, fmt.Errorf("table %s: AttributeDefinitions entry %d: AttributeName and AttributeType are required", logicalID, i)
		}
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a.AttributeName), AttributeType: types.ScalarAttributeType(a.AttributeType),
		})
	}
	if in.KeySchema, err = keySchema(t.KeySchema); err != nil {
		return nil, fmt.Errorf("table %s: %w", logicalID, err)
	}
	for _, g := range t.GlobalSecondaryIndexes {
		keys, err := keySchema(g.KeySchema)
		if err != nil {
			return nil, fmt.Errorf("table %s: index %s: %w", logicalID, g.IndexName, err)
		}
		if g.IndexName == "" {
			return nil, fmt.Errorf("table %s: index without IndexName", logicalID)
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(g.IndexName),
			KeySchema: keys,
			Projection: &types.Projection{
				ProjectionType:   types.ProjectionType(g.Projection.ProjectionType),
				NonKeyAttributes: g.Projection.NonKeyAttributes,
			},
		})
	}
	if t.StreamSpecification != nil {
		in.StreamSpecification = &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewType(t.StreamSpecification.StreamViewType),
		}
	}
	return in, nil
}

// TTLAttributeFromTemplate returns the TTL attribute name of table resource
// logicalID (TimeToLiveSpecification.AttributeName), or "" if the template
// does not enable TTL on it.
func TTLAttributeFromTemplate(templateYAML []byte, logicalID string) (string, error) {
	t, err := tableFromTemplate(templateYAML, logicalID)
	if err != nil {
		return "", err
	}
	if t.TimeToLiveSpecification == nil || !t.TimeToLiveSpecification.Enabled {
		return "", nil
	}
	return t.TimeToLiveSpecification.AttributeName, nil
}

// tableFromTemplate finds Resources.<logicalID> with the yaml.v3 node API,
// which keeps unknown tags such as !Ref as plain node tags instead of
// failing, checks its Type and decodes its Properties.
func tableFromTemplate(templateYAML []byte, logicalID string) (cfnTable, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(templateYAML, &doc); err != nil {
		return cfnTable{}, fmt.Errorf("parse template: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return cfnTable{}, errors.New("parse template: empty document")
	}
	resource := mapValue(mapValue(doc.Content[0], "Resources"), logicalID)
	if resource == nil {
		return cfnTable{}, fmt.Errorf("template has no resource %s", logicalID)
	}
	const tableType = "AWS::DynamoDB::Table"
	if typ := mapValue(resource, "Type"); typ == nil || typ.Value != tableType {
		return cfnTable{}, fmt.Errorf("resource %s: want Type %s", logicalID, tableType)
	}
	props := mapValue(resource, "Properties")
	if props == nil {
		return cfnTable{}, fmt.Errorf("resource %s has no Properties", logicalID)
	}
	if err := rejectIntrinsics(props); err != nil {
		return cfnTable{}, fmt.Errorf("resource %s: %w", logicalID, err)
	}
	var t cfnTable
	if err := props.Decode(&t); err != nil {
		return cfnTable{}, fmt.Errorf("resource %s: %w", logicalID, err)
	}
	return t, nil
}

// readProperties are the table properties cfnTable decodes.
var readProperties = map[string]bool{
	"BillingMode": true, "AttributeDefinitions": true, "KeySchema": true,
	"GlobalSecondaryIndexes": true, "StreamSpecification": true, "TimeToLiveSpecification": true,
}

// rejectIntrinsics fails if a property cfnTable reads uses a short-form
// intrinsic function such as !Ref: yaml.v3 would silently decode "!Ref X"
// as the string "X". (Long-form ones, {Ref: X}, fail to decode anyway.)
func rejectIntrinsics(props *yaml.Node) error {
	var walk func(n *yaml.Node) error
	walk = func(n *yaml.Node) error {
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			return fmt.Errorf("line %d: intrinsic function %s is not supported here", n.Line, n.Tag)
		}
		for _, c := range n.Content {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	for i := 0; i+1 < len(props.Content); i += 2 {
		if readProperties[props.Content[i].Value] {
			if err := walk(props.Content[i+1]); err != nil {
				return fmt.Errorf("%s: %w", props.Content[i].Value, err)
			}
		}
	}
	return nil
}

// mapValue returns the value of key in mapping node n, or nil if n is not a
// mapping or has no such key.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
