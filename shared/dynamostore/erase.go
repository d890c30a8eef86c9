package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/unbundled/unbundled/shared/consent"
)

const (
	tombstonePrefix = "ERASED#"
	tombstoneSK     = "TOMBSTONE"
)

// tombstoneItem is a consent.Tombstone as stored; never overwritten.
type tombstoneItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	At     string `dynamodbav:"at"`
	Reason string `dynamodbav:"reason"`
}

func tombstoneKey(id string) string { return tombstonePrefix + id }

// Erase implements consent.Eraser. It puts tombstone t on condition that
// its key is free (a refused condition means an earlier tombstone stays),
// then deletes, one DeleteItem each, the items holding the subscriber's
// data: the events in partition SUB#<subscriber> (a strongly consistent
// Query), and the claims whose key names the subscriber (one of the key's
// "#"-separated fields is the subscriber id) and the jobs whose subscriber
// they are, both found by one strongly consistent, paginated Scan of the
// table. It counts the items a DeleteItem found (ReturnValues ALL_OLD), so
// an item TTL removed meanwhile is not counted.
//
// The deletes are not one transaction: if one fails, Erase returns the
// error and what it has deleted stays deleted; erasing again finishes the
// job. It fails, writing nothing, if subscriber or t.ID is empty or t.At is
// outside years 0000-9999.
func (s *Store) Erase(ctx context.Context, subscriber string, t consent.Tombstone) (consent.Erased, error) {
	if err := checkErase(subscriber, t); err != nil {
		return consent.Erased{}, err
	}
	if err := s.putTombstone(ctx, t); err != nil {
		return consent.Erased{}, fmt.Errorf("erase subscriber: write tombstone: %w", err)
	}
	events, err := s.eventKeys(ctx, subscriber)
	if err != nil {
		return consent.Erased{}, fmt.Errorf("erase subscriber: find events: %w", err)
	}
	claims, jobs, err := s.claimAndJobKeys(ctx, subscriber)
	if err != nil {
		return consent.Erased{}, fmt.Errorf("erase subscriber: find claims and jobs: %w", err)
	}
	var erased consent.Erased
	if erased.Events, err = s.deleteItems(ctx, events); err != nil {
		return consent.Erased{}, fmt.Errorf("erase subscriber: delete events: %w", err)
	}
	if erased.Claims, err = s.deleteItems(ctx, claims); err != nil {
		return consent.Erased{}, fmt.Errorf("erase subscriber: delete claims: %w", err)
	}
	if erased.Jobs, err = s.deleteItems(ctx, jobs); err != nil {
		return consent.Erased{}, fmt.Errorf("erase subscriber: delete jobs: %w", err)
	}
	return erased, nil
}

// putTombstone stores t unless a tombstone with its id exists.
func (s *Store) putTombstone(ctx context.Context, t consent.Tombstone) error {
	item, err := attributevalue.MarshalMap(tombstoneItem{
		PK: tombstoneKey(t.ID), SK: tombstoneSK, At: t.At.UTC().Format(timeLayout), Reason: t.Reason,
	})
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build()
	if err != nil {
		return fmt.Errorf("build condition: %w", err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      expr.Condition(),
		ExpressionAttributeNames: expr.Names(),
	})
	if isConditionFailed(err) {
		return nil // the first tombstone stays
	}
	return err
}

// keyNames projects an item to its primary key, ready for DeleteItem.
var keyNames = expression.NamesList(expression.Name("pk"), expression.Name("sk"))

// eventKeys returns the keys of the subscriber's event items.
func (s *Store) eventKeys(ctx context.Context, subscriber string) ([]map[string]types.AttributeValue, error) {
	key := expression.Key("pk").Equal(expression.Value(subscriberKey(subscriber))).
		And(expression.Key("sk").BeginsWith(eventPrefix))
	expr, err := expression.NewBuilder().WithKeyCondition(key).WithProjection(keyNames).Build()
	if err != nil {
		return nil, fmt.Errorf("build query: %w", err)
	}
	pages := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
	})
	var keys []map[string]types.AttributeValue
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		keys = append(keys, out.Items...)
	}
	return keys, nil
}

// claimAndJobKeys scans the table for the keys of the claims naming
// subscriber and of the subscriber's jobs. The filter narrows claims to
// keys containing the id; namesSubscriber decides.
func (s *Store) claimAndJobKeys(ctx context.Context, subscriber string) (claims, jobs []map[string]types.AttributeValue, err error) {
	claim := expression.Name("pk").BeginsWith(claimPrefix).And(expression.Name("pk").Contains(subscriber))
	job := expression.Name("type").Equal(expression.Value(itemTypeJob)).
		And(expression.Name("subscriber").Equal(expression.Value(subscriber)))
	expr, err := expression.NewBuilder().WithFilter(claim.Or(job)).WithProjection(keyNames).Build()
	if err != nil {
		return nil, nil, fmt.Errorf("build scan: %w", err)
	}
	pages := dynamodb.NewScanPaginator(s.client, &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          expr.Filter(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
	})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, item := range out.Items {
			var pk string
			if err := attributevalue.Unmarshal(item["pk"], &pk); err != nil {
				return nil, nil, fmt.Errorf("decode key: %w", err)
			}
			switch {
			case strings.HasPrefix(pk, jobPrefix):
				jobs = append(jobs, item)
			case strings.HasPrefix(pk, claimPrefix) && namesSubscriber(strings.TrimPrefix(pk, claimPrefix), subscriber):
				claims = append(claims, item)
			}
		}
	}
	return claims, jobs, nil
}

// deleteItems deletes the items with keys and returns how many existed.
func (s *Store) deleteItems(ctx context.Context, keys []map[string]types.AttributeValue) (int, error) {
	n := 0
	for _, key := range keys {
		out, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName:    aws.String(s.table),
			Key:          key,
			ReturnValues: types.ReturnValueAllOld,
		})
		if err != nil {
			return n, err
		}
		if len(out.Attributes) > 0 {
			n++
		}
	}
	return n, nil
}

// Tombstone implements consent.Eraser: the tombstone with id, read with a
// strongly consistent Query, or an error wrapping consent.ErrNotFound.
func (s *Store) Tombstone(ctx context.Context, id string) (consent.Tombstone, error) {
	item, err := s.queryOne(ctx, tombstoneKey(id), tombstoneSK)
	if err != nil {
		return consent.Tombstone{}, fmt.Errorf("tombstone %s: %w", id, err)
	}
	if item == nil {
		return consent.Tombstone{}, fmt.Errorf("tombstone %s: %w", id, consent.ErrNotFound)
	}
	var it tombstoneItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return consent.Tombstone{}, fmt.Errorf("tombstone %s: decode: %w", id, err)
	}
	at, err := time.Parse(timeLayout, it.At)
	if err != nil {
		return consent.Tombstone{}, fmt.Errorf("tombstone %s: bad time: %w", id, err)
	}
	return consent.Tombstone{ID: id, At: at, Reason: it.Reason}, nil
}

// ScanEvents implements consent.LedgerScanner with a strongly consistent,
// paginated Scan of the table filtered to event items (type "event") whose
// event_type is one of eventTypes (any, if it is empty), calling fn for
// each event of a page before reading the next. It reads, and pays for,
// the whole table.
func (s *Store) ScanEvents(ctx context.Context, eventTypes []consent.EventType, fn func(consent.Event) error) error {
	filter := expression.Name("type").Equal(expression.Value(itemTypeEvent))
	if len(eventTypes) > 0 {
		values := make([]expression.OperandBuilder, 0, len(eventTypes))
		for _, t := range slices.Compact(slices.Sorted(slices.Values(eventTypes))) {
			values = append(values, expression.Value(string(t)))
		}
		filter = filter.And(expression.Name("event_type").In(values[0], values[1:]...))
	}
	expr, err := expression.NewBuilder().WithFilter(filter).Build()
	if err != nil {
		return fmt.Errorf("scan events: build scan: %w", err)
	}
	pages := dynamodb.NewScanPaginator(s.client, &dynamodb.ScanInput{
		TableName:                 aws.String(s.table),
		FilterExpression:          expr.Filter(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
	})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("scan events: %w", err)
		}
		events, err := eventsFromItems(out.Items)
		if err != nil {
			return fmt.Errorf("scan events: %w", err)
		}
		for _, e := range events {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkErase rejects what Erase cannot carry out meaningfully, as the
// in-memory and SQLite stores do: an empty subscriber (every claim would
// match) or tombstone id, or a time outside years 0000-9999 (timeLayout).
func checkErase(subscriber string, t consent.Tombstone) error {
	switch y := t.At.UTC().Year(); {
	case subscriber == "":
		return errors.New("erase subscriber: empty subscriber")
	case t.ID == "":
		return errors.New("erase subscriber: empty tombstone id")
	case y < 0 || y > 9999:
		return fmt.Errorf("erase subscriber: tombstone time %s out of range", t.At)
	}
	return nil
}

// namesSubscriber reports whether claim key names subscriber: claim keys
// are "#"-separated fields ("pending-confirmation#<subscriber>#<magnet>#…",
// "mail#<subscriber>#<n>", "withdraw-link#<subscriber>"), and one of them
// is the subscriber id. A key holding only a hash of it does not.
func namesSubscriber(key, subscriber string) bool {
	return slices.Contains(strings.Split(key, "#"), subscriber)
}
