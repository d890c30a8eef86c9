package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const (
	counterPrefix   = "COUNT#"
	counterSK       = "COUNT"
	itemTypeCounter = "counter"
	// maxCountAttempts bounds the rare race between two callers restarting
	// the same expired counter.
	maxCountAttempts = 4
)

// Count implements consent.CounterStore with one conditional UpdateItem: a
// live counter goes up by one (ADD is atomic on the item); a missing one is
// created at 1. An expired one that TTL has not yet deleted is restarted by
// a second conditional update that only applies while it is still expired.
func (s *Store) Count(ctx context.Context, key string, expiresAt, now time.Time) (int, error) {
	if key == "" {
		return 0, errors.New("count: empty key")
	}
	exp, nowUnix := ceilUnix(expiresAt), now.Unix()
	for range maxCountAttempts {
		live := expression.AttributeNotExists(expression.Name("pk")).
			Or(expression.Name("expires_at").GreaterThan(expression.Value(nowUnix)))
		upd := expression.Add(expression.Name("n"), expression.Value(1)).
			Set(expression.Name("expires_at"), expression.IfNotExists(expression.Name("expires_at"), expression.Value(exp))).
			Set(expression.Name("type"), expression.Value(itemTypeCounter))
		n, err := s.updateCounter(ctx, key, upd, live)
		if !isConditionFailed(err) {
			return n, err
		}
		expired := expression.Name("expires_at").LessThanEqual(expression.Value(nowUnix))
		restart := expression.Set(expression.Name("n"), expression.Value(1)).
			Set(expression.Name("expires_at"), expression.Value(exp))
		n, err = s.updateCounter(ctx, key, restart, expired)
		if !isConditionFailed(err) {
			return n, err
		}
		// Someone else restarted it between our two updates: count again.
	}
	return 0, fmt.Errorf("count %s: counter kept changing", key)
}

func (s *Store) updateCounter(ctx context.Context, key string, upd expression.UpdateBuilder, cond expression.ConditionBuilder) (int, error) {
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return 0, fmt.Errorf("count %s: build expression: %w", key, err)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: counterPrefix + key},
			"sk": &types.AttributeValueMemberS{Value: counterSK},
		},
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		if isConditionFailed(err) {
			return 0, err
		}
		return 0, fmt.Errorf("count %s: %w", key, err)
	}
	nv, ok := out.Attributes["n"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("count %s: no count in the answer", key)
	}
	n, err := strconv.Atoi(nv.Value)
	if err != nil {
		return 0, fmt.Errorf("count %s: bad count %q: %w", key, nv.Value, err)
	}
	return n, nil
}

func isConditionFailed(err error) bool {
	var failed *types.ConditionalCheckFailedException
	return errors.As(err, &failed)
}
