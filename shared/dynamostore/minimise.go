package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/unbundled/unbundled/shared/consent"
)

// MinimiseEvidence implements consent.EvidenceMinimiser. It reads the
// subscriber's ledger (a strongly consistent Query) and, for each event
// recorded before `before` whose evidence consent.MinimisedEvidence
// changes, sends one UpdateItem that sets source_ip and user_agent (or
// removes one that becomes empty, as items leave empty attributes out) on
// condition that the item still holds that event (its id), so an event
// erased meanwhile — or erased and its position taken by a new sign-up —
// is left alone and not counted. Nothing else in the item changes.
//
// The updates are not one transaction: if one fails, MinimiseEvidence
// returns the error and what it has changed stays changed; running it
// again finishes the job. The table's stream reports each update as a
// MODIFY of a ledger event, which DeliverFunction's filter (inserts of
// jobs) ignores.
func (s *Store) MinimiseEvidence(ctx context.Context, subscriber string, before time.Time) (int, error) {
	if subscriber == "" {
		return 0, errors.New("minimise evidence: empty subscriber")
	}
	events, err := s.Events(ctx, subscriber)
	if err != nil {
		return 0, fmt.Errorf("minimise evidence: %w", err)
	}
	n := 0
	for _, e := range events {
		if !e.At.Before(before) {
			continue
		}
		m := consent.MinimisedEvidence(e)
		if m.SourceIP == e.SourceIP && m.UserAgent == e.UserAgent {
			continue
		}
		changed, err := s.minimiseEvent(ctx, e, m)
		if err != nil {
			return n, fmt.Errorf("minimise evidence of event %d: %w", e.Seq, err)
		}
		if changed {
			n++
		}
	}
	return n, nil
}

// minimiseEvent writes m's evidence into the item of event e, if the item
// still holds e, and reports whether it did.
func (s *Store) minimiseEvent(ctx context.Context, e, m consent.Event) (bool, error) {
	var update expression.UpdateBuilder
	for _, attr := range []struct{ name, value string }{{"source_ip", m.SourceIP}, {"user_agent", m.UserAgent}} {
		if attr.value == "" {
			update = update.Remove(expression.Name(attr.name))
		} else {
			update = update.Set(expression.Name(attr.name), expression.Value(attr.value))
		}
	}
	expr, err := expression.NewBuilder().
		WithUpdate(update).
		WithCondition(expression.Name("id").Equal(expression.Value(e.ID))).
		Build()
	if err != nil {
		return false, fmt.Errorf("build update: %w", err)
	}
	key, err := attributevalue.MarshalMap(struct {
		PK string `dynamodbav:"pk"`
		SK string `dynamodbav:"sk"`
	}{subscriberKey(e.Subscriber), eventKey(e.Seq)})
	if err != nil {
		return false, fmt.Errorf("encode key: %w", err)
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key,
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	switch {
	case isConditionFailed(err):
		return false, nil // erased meanwhile
	case err != nil:
		return false, err
	}
	return true, nil
}
