// Package streamtest reads a DynamoDB table's stream for tests against an
// emulator (moto), and hands back its records as the
// events.DynamoDBEventRecord values a Lambda function subscribed to the
// stream receives. A test can then feed them to the stream handler, as the
// event source mapping would.
//
// The records go through the same JSON shape Lambda delivers (eventName,
// eventSourceARN, dynamodb.Keys/NewImage/OldImage in DynamoDB JSON,
// SequenceNumber...) and are decoded by aws-lambda-go itself, so a handler
// sees exactly what it would see on Lambda, apart from what the emulator
// fills in differently (moto reports region us-east-1 and eventVersion 1.0).
//
// Nothing here is used by the functions; only tests import it.
package streamtest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// API is the part of the DynamoDB Streams client the reader uses.
// *dynamodbstreams.Client implements it.
type API interface {
	ListStreams(ctx context.Context, in *dynamodbstreams.ListStreamsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.ListStreamsOutput, error)
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// maxPages bounds how many GetRecords pages one shard may take, so a shard
// that never reports its end cannot hang a test.
const maxPages = 1000

// Records returns every record in the latest stream of table, from the
// start of each shard (TRIM_HORIZON), shards in the order DescribeStream
// lists them (parents before children). A shard is read until GetRecords
// returns no records or no next iterator: on an emulator that is its end.
// It fails if the table has no stream.
func Records(ctx context.Context, client API, table string) ([]events.DynamoDBEventRecord, error) {
	streamARN, err := latestStream(ctx, client, table)
	if err != nil {
		return nil, err
	}
	shards, err := shardIDs(ctx, client, streamARN)
	if err != nil {
		return nil, err
	}
	var out []events.DynamoDBEventRecord
	for _, shard := range shards {
		it, err := client.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
			StreamArn:         aws.String(streamARN),
			ShardId:           aws.String(shard),
			ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			return nil, fmt.Errorf("stream of %s: shard %s: get iterator: %w", table, shard, err)
		}
		next := it.ShardIterator
		for page := 0; next != nil; page++ {
			if page == maxPages {
				return nil, fmt.Errorf("stream of %s: shard %s: more than %d pages", table, shard, maxPages)
			}
			got, err := client.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: next})
			if err != nil {
				return nil, fmt.Errorf("stream of %s: shard %s: get records: %w", table, shard, err)
			}
			if len(got.Records) == 0 {
				break
			}
			for _, r := range got.Records {
				rec, err := LambdaRecord(r, streamARN)
				if err != nil {
					return nil, fmt.Errorf("stream of %s: %w", table, err)
				}
				out = append(out, rec)
			}
			next = got.NextShardIterator
		}
	}
	return out, nil
}

// Event returns the records as the event Lambda passes to a stream
// handler (one batch).
func Event(records []events.DynamoDBEventRecord) events.DynamoDBEvent {
	return events.DynamoDBEvent{Records: records}
}

// latestStream returns the ARN of table's newest stream (streams of a
// table recreated with the same name stay listed for a day).
func latestStream(ctx context.Context, client API, table string) (string, error) {
	var streams []types.Stream
	in := &dynamodbstreams.ListStreamsInput{TableName: aws.String(table)}
	for {
		out, err := client.ListStreams(ctx, in)
		if err != nil {
			return "", fmt.Errorf("list streams of %s: %w", table, err)
		}
		streams = append(streams, out.Streams...)
		if out.LastEvaluatedStreamArn == nil {
			break
		}
		in.ExclusiveStartStreamArn = out.LastEvaluatedStreamArn
	}
	if len(streams) == 0 {
		return "", fmt.Errorf("table %s has no stream (is StreamSpecification set?)", table)
	}
	// Stream labels are ISO 8601 timestamps, so text order is age order.
	latest := slices.MaxFunc(streams, func(a, b types.Stream) int {
		return cmp.Compare(aws.ToString(a.StreamLabel), aws.ToString(b.StreamLabel))
	})
	return aws.ToString(latest.StreamArn), nil
}

// shardIDs lists the stream's shards, following DescribeStream's pages.
func shardIDs(ctx context.Context, client API, streamARN string) ([]string, error) {
	var ids []string
	in := &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(streamARN)}
	for {
		out, err := client.DescribeStream(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describe stream %s: %w", streamARN, err)
		}
		if out.StreamDescription == nil {
			return nil, fmt.Errorf("describe stream %s: no description", streamARN)
		}
		for _, s := range out.StreamDescription.Shards {
			ids = append(ids, aws.ToString(s.ShardId))
		}
		if out.StreamDescription.LastEvaluatedShardId == nil {
			return ids, nil
		}
		in.ExclusiveStartShardId = out.StreamDescription.LastEvaluatedShardId
	}
}

// LambdaRecord converts one DynamoDB Streams record of the stream
// streamARN into the record Lambda delivers: it builds Lambda's JSON for it
// and decodes that with aws-lambda-go.
func LambdaRecord(r types.Record, streamARN string) (events.DynamoDBEventRecord, error) {
	if r.Dynamodb == nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("record %s: no dynamodb section", aws.ToString(r.EventID))
	}
	change := lambdaChange{
		SequenceNumber: aws.ToString(r.Dynamodb.SequenceNumber),
		SizeBytes:      aws.ToInt64(r.Dynamodb.SizeBytes),
		StreamViewType: string(r.Dynamodb.StreamViewType),
	}
	if t := r.Dynamodb.ApproximateCreationDateTime; t != nil {
		change.ApproximateCreationDateTime = t.Unix()
	}
	var err error
	if change.Keys, err = imageJSON(r.Dynamodb.Keys); err != nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("record %s: keys: %w", aws.ToString(r.EventID), err)
	}
	if change.NewImage, err = imageJSON(r.Dynamodb.NewImage); err != nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("record %s: new image: %w", aws.ToString(r.EventID), err)
	}
	if change.OldImage, err = imageJSON(r.Dynamodb.OldImage); err != nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("record %s: old image: %w", aws.ToString(r.EventID), err)
	}
	rec := lambdaRecord{
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventVersion:   aws.ToString(r.EventVersion),
		EventSource:    aws.ToString(r.EventSource),
		AWSRegion:      aws.ToString(r.AwsRegion),
		Change:         change,
		EventSourceARN: streamARN,
	}
	if id := r.UserIdentity; id != nil {
		rec.UserIdentity = &lambdaIdentity{Type: aws.ToString(id.Type), PrincipalID: aws.ToString(id.PrincipalId)}
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("record %s: encode: %w", rec.EventID, err)
	}
	var out events.DynamoDBEventRecord
	if err := json.Unmarshal(data, &out); err != nil {
		return events.DynamoDBEventRecord{}, fmt.Errorf("record %s: decode as Lambda would: %w", rec.EventID, err)
	}
	return out, nil
}

// lambdaRecord is the JSON Lambda delivers for one stream record.
type lambdaRecord struct {
	EventID        string          `json:"eventID"`
	EventName      string          `json:"eventName"`
	EventVersion   string          `json:"eventVersion"`
	EventSource    string          `json:"eventSource"`
	AWSRegion      string          `json:"awsRegion"`
	UserIdentity   *lambdaIdentity `json:"userIdentity,omitempty"`
	Change         lambdaChange    `json:"dynamodb"`
	EventSourceARN string          `json:"eventSourceARN"`
}

type lambdaIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
}

type lambdaChange struct {
	ApproximateCreationDateTime int64          `json:"ApproximateCreationDateTime,omitempty"`
	Keys                        map[string]any `json:"Keys,omitempty"`
	NewImage                    map[string]any `json:"NewImage,omitempty"`
	OldImage                    map[string]any `json:"OldImage,omitempty"`
	SequenceNumber              string         `json:"SequenceNumber"`
	SizeBytes                   int64          `json:"SizeBytes"`
	StreamViewType              string         `json:"StreamViewType"`
}

func imageJSON(image map[string]types.AttributeValue) (map[string]any, error) {
	if image == nil {
		return nil, nil
	}
	out := make(map[string]any, len(image))
	for name, v := range image {
		j, err := valueJSON(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", name, err)
		}
		out[name] = j
	}
	return out, nil
}

// valueJSON is v in DynamoDB JSON ({"S": "..."}, {"N": "1"}, {"B":
// base64}...), the form Lambda uses for images.
func valueJSON(v types.AttributeValue) (any, error) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return map[string]any{"S": v.Value}, nil
	case *types.AttributeValueMemberN:
		return map[string]any{"N": v.Value}, nil
	case *types.AttributeValueMemberB:
		return map[string]any{"B": v.Value}, nil // []byte encodes as base64
	case *types.AttributeValueMemberBOOL:
		return map[string]any{"BOOL": v.Value}, nil
	case *types.AttributeValueMemberNULL:
		return map[string]any{"NULL": v.Value}, nil
	case *types.AttributeValueMemberSS:
		return map[string]any{"SS": v.Value}, nil
	case *types.AttributeValueMemberNS:
		return map[string]any{"NS": v.Value}, nil
	case *types.AttributeValueMemberBS:
		return map[string]any{"BS": v.Value}, nil
	case *types.AttributeValueMemberL:
		list := make([]any, len(v.Value))
		for i, e := range v.Value {
			j, err := valueJSON(e)
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
			list[i] = j
		}
		return map[string]any{"L": list}, nil
	case *types.AttributeValueMemberM:
		m, err := imageJSON(v.Value)
		if err != nil {
			return nil, err
		}
		if m == nil {
			m = map[string]any{}
		}
		return map[string]any{"M": m}, nil
	case nil:
		return nil, errors.New("nil attribute value")
	}
	return nil, fmt.Errorf("unsupported attribute value %T", v)
}
