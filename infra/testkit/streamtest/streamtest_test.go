package streamtest_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/unbundled/unbundled/infra/testkit/streamtest"
)

// TestLambdaRecord converts a DynamoDB Streams record holding every
// attribute type and compares it with the JSON Lambda delivers for it,
// decoded by aws-lambda-go (testdata/insert.json).
func TestLambdaRecord(t *testing.T) {
	const arn = "arn:aws:dynamodb:eu-west-2:123456789012:table/consent/stream/2025-03-14T09:26:53.589"
	keys := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "JOB#j1"},
		"sk": &types.AttributeValueMemberS{Value: "JOB"},
	}
	image := map[string]types.AttributeValue{
		"pk":         keys["pk"],
		"sk":         keys["sk"],
		"type":       &types.AttributeValueMemberS{Value: "job"},
		"id":         &types.AttributeValueMemberS{Value: "j1"},
		"attempts":   &types.AttributeValueMemberN{Value: "0"},
		"expires_at": &types.AttributeValueMemberN{Value: "1741948014"},
		"blob":       &types.AttributeValueMemberB{Value: []byte{0, 1, 42, 65}},
		"flag":       &types.AttributeValueMemberBOOL{Value: true},
		"nothing":    &types.AttributeValueMemberNULL{Value: true},
		"tags":       &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"counts":     &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
		"blobs":      &types.AttributeValueMemberBS{Value: [][]byte{{0, 1, 42, 65}, {65, 42, 1, 0}}},
		"list": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberS{Value: "x"},
			&types.AttributeValueMemberN{Value: "7"},
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		}},
		"map": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"inner":  &types.AttributeValueMemberS{Value: "y"},
			"deeper": &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		}},
	}
	r := types.Record{
		EventID:      aws.String("4b9a6d2f0c1e4d3a9f8e7d6c5b4a3928"),
		EventName:    types.OperationTypeInsert,
		EventVersion: aws.String("1.1"),
		EventSource:  aws.String("aws:dynamodb"),
		AwsRegion:    aws.String("eu-west-2"),
		Dynamodb: &types.StreamRecord{
			ApproximateCreationDateTime: aws.Time(time.Unix(1741944413, 0)),
			Keys:                        keys,
			NewImage:                    image,
			SequenceNumber:              aws.String("1100000000017454423009"),
			SizeBytes:                   aws.Int64(321),
			StreamViewType:              types.StreamViewTypeNewImage,
		},
	}
	got, err := streamtest.LambdaRecord(r, arn)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "insert.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want events.DynamoDBEventRecord
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("LambdaRecord:\n got %s\nwant %s", g, w)
	}
	// What the deliver function's filter and handler look at.
	if got.EventName != "INSERT" || got.Change.NewImage["type"].String() != "job" || got.Change.NewImage["id"].String() != "j1" ||
		got.Change.SequenceNumber != "1100000000017454423009" || got.EventSourceArn != arn {
		t.Errorf("LambdaRecord: got eventName %q, type %q, id %q, sequence %q, source %q",
			got.EventName, got.Change.NewImage["type"].String(), got.Change.NewImage["id"].String(), got.Change.SequenceNumber, got.EventSourceArn)
	}
}

func TestLambdaRecordWithoutBody(t *testing.T) {
	if _, err := streamtest.LambdaRecord(types.Record{EventID: aws.String("e")}, "arn"); err == nil {
		t.Error("LambdaRecord of a record without a dynamodb section: got nil error, want one")
	}
}
