package dynamostore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/unbundled/unbundled/shared/consent"
)

// pendingPut is one item a Commit writes, with what to report if its
// condition fails.
type pendingPut struct {
	put     *types.Put
	stored  any    // the storage struct, for the request token
	what    string // "append event 4", "create job <id>", "claim <key>"
	isClaim bool
}

// refused is the error for an item whose condition failed (taken is true)
// or that a concurrent transaction held (taken is false). Only a claim
// whose condition failed wraps consent.ErrClaimTaken.
func (p pendingPut) refused(taken bool) error {
	if p.isClaim && taken {
		return fmt.Errorf("%s: %w: %w", p.what, consent.ErrClaimTaken, consent.ErrConflict)
	}
	if !taken {
		return fmt.Errorf("%s: concurrent transaction: %w", p.what, consent.ErrConflict)
	}
	return fmt.Errorf("%s: %w", p.what, consent.ErrConflict)
}

// Commit writes w all or nothing: one item with a conditional PutItem,
// several (at most consent.MaxBatch) in one TransactWriteItems, events
// first, then jobs, then claims. Each event and job is put on condition
// that its key is free; each claim on condition that its key is free or
// held by a record expired at w.Now (Unix seconds; expiries are rounded up
// to whole seconds, as in Claim, and so is a job's ExpiresAt).
//
// If a claim's condition fails the error wraps consent.ErrClaimTaken and
// consent.ErrConflict, whatever else failed; if only an event's or a job's
// did, or a concurrent transaction on the same items made DynamoDB cancel
// this one (TransactionConflict, even on a claim), it wraps
// consent.ErrConflict alone. It fails, wrapping neither, if w breaks the
// rules consent.CheckWrite enforces.
//
// A transaction carries a client request token that is a hash of its
// contents, so the SDK retrying a Commit that did commit reports success
// instead of a conflict with itself. DynamoDB remembers tokens for ten
// minutes: an identical Commit within that time succeeds without writing
// again.
func (s *Store) Commit(ctx context.Context, w consent.Write) error {
	if err := consent.CheckWrite(w); err != nil {
		return err
	}
	puts, err := s.puts(w)
	if err != nil {
		return err
	}
	switch len(puts) {
	case 0:
		return nil
	case 1:
		p := puts[0]
		_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                 p.put.TableName,
			Item:                      p.put.Item,
			ConditionExpression:       p.put.ConditionExpression,
			ExpressionAttributeNames:  p.put.ExpressionAttributeNames,
			ExpressionAttributeValues: p.put.ExpressionAttributeValues,
		})
		var failed *types.ConditionalCheckFailedException
		if errors.As(err, &failed) {
			return p.refused(true)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p.what, err)
		}
		return nil
	}

	items := make([]types.TransactWriteItem, len(puts))
	for i, p := range puts {
		items[i] = types.TransactWriteItem{Put: p.put}
	}
	token, err := requestToken(puts, w.Now)
	if err != nil {
		return err
	}
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems:      items,
		ClientRequestToken: aws.String(token),
	})
	if err == nil {
		return nil
	}
	if refused := cancelledBy(err, puts); refused != nil {
		return refused
	}
	return fmt.Errorf("commit %s: %w", summary(w), err)
}

// puts builds the conditional puts of w: events, then jobs, then claims.
func (s *Store) puts(w consent.Write) ([]pendingPut, error) {
	absent, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build()
	if err != nil {
		return nil, fmt.Errorf("commit: build condition: %w", err)
	}
	free := expression.AttributeNotExists(expression.Name("pk")).
		Or(expression.Name("expires_at").LessThanEqual(expression.Value(w.Now.Unix())))
	claimFree, err := expression.NewBuilder().WithCondition(free).Build()
	if err != nil {
		return nil, fmt.Errorf("commit: build claim condition: %w", err)
	}
	var puts []pendingPut
	add := func(stored any, what string, cond expression.Expression, isClaim bool) error {
		item, err := attributevalue.MarshalMap(stored)
		if err != nil {
			return fmt.Errorf("%s: encode: %w", what, err)
		}
		puts = append(puts, pendingPut{
			put: &types.Put{
				TableName:                 aws.String(s.table),
				Item:                      item,
				ConditionExpression:       cond.Condition(),
				ExpressionAttributeNames:  cond.Names(),
				ExpressionAttributeValues: cond.Values(),
			},
			stored: stored, what: what, isClaim: isClaim,
		})
		return nil
	}
	for _, e := range w.Events {
		if err := add(toItem(e), fmt.Sprintf("append event %d", e.Seq), absent, false); err != nil {
			return nil, err
		}
	}
	for _, j := range w.Jobs {
		if err := add(toJobItem(j), "create job "+j.ID, absent, false); err != nil {
			return nil, err
		}
	}
	for _, c := range w.Claims {
		it := claimItem{PK: claimPrefix + c.Key, SK: claimSK, Value: c.Value, ExpiresAt: ceilUnix(c.ExpiresAt)}
		if err := add(it, "claim "+c.Key, claimFree, true); err != nil {
			return nil, err
		}
	}
	return puts, nil
}

// cancelledBy maps a cancelled transaction to the error of the item that
// caused it, by index: a claim whose condition failed first, then any item
// whose condition failed, then one a concurrent transaction held. It
// returns nil for any other error.
func cancelledBy(err error, puts []pendingPut) error {
	var cancelled *types.TransactionCanceledException
	if !errors.As(err, &cancelled) {
		return nil
	}
	reasons := cancelled.CancellationReasons
	code := func(i int) string { return aws.ToString(reasons[i].Code) }
	n := min(len(reasons), len(puts))
	for i := range n {
		if puts[i].isClaim && code(i) == "ConditionalCheckFailed" {
			return puts[i].refused(true)
		}
	}
	for i := range n {
		if code(i) == "ConditionalCheckFailed" {
			return puts[i].refused(true)
		}
	}
	for i := range n {
		if code(i) == "TransactionConflict" {
			return puts[i].refused(false)
		}
	}
	return nil
}

// requestToken is the idempotency token of a transaction: 32 hex digits of
// a hash of the items it puts and of now (in the seconds its conditions
// use).
func requestToken(puts []pendingPut, now time.Time) (string, error) {
	stored := make([]any, len(puts))
	for i, p := range puts {
		stored[i] = p.stored
	}
	// The storage structs hold only strings and numbers, so their JSON is
	// deterministic.
	data, err := json.Marshal(struct {
		Items []any
		Now   int64
	}{stored, now.Unix()})
	if err != nil {
		return "", fmt.Errorf("commit: request token: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:32], nil
}

// summary names what w holds, for error messages: "events 4-5, 1 job,
// 2 claims".
func summary(w consent.Write) string {
	var parts []string
	switch n := len(w.Events); {
	case n == 1:
		parts = append(parts, fmt.Sprintf("event %d", w.Events[0].Seq))
	case n > 1:
		parts = append(parts, fmt.Sprintf("events %d-%d", w.Events[0].Seq, w.Events[n-1].Seq))
	}
	if n := len(w.Jobs); n > 0 {
		parts = append(parts, plural(n, "job"))
	}
	if n := len(w.Claims); n > 0 {
		parts = append(parts, plural(n, "claim"))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// GetClaim returns the value of claim key if it is unexpired at now (by the
// same whole-second rule as Commit), or an error wrapping
// consent.ErrNotFound. It reads with a strongly consistent Query, so it sees
// every Commit that returned. A claim committed without a value has the value "".
func (s *Store) GetClaim(ctx context.Context, key string, now time.Time) (string, error) {
	item, err := s.queryOne(ctx, claimPrefix+key, claimSK)
	if err != nil {
		return "", fmt.Errorf("claim %s: %w", key, err)
	}
	var it claimItem
	if item != nil {
		if err := attributevalue.UnmarshalMap(item, &it); err != nil {
			return "", fmt.Errorf("claim %s: decode: %w", key, err)
		}
	}
	if item == nil || it.ExpiresAt <= now.Unix() {
		return "", fmt.Errorf("claim %s: %w", key, consent.ErrNotFound)
	}
	return it.Value, nil
}

// queryOne reads the item with key pk, sk with a strongly consistent Query
// (the functions may Query but not GetItem). It returns nil if there is
// none.
func (s *Store) queryOne(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	key := expression.Key("pk").Equal(expression.Value(pk)).And(expression.Key("sk").Equal(expression.Value(sk)))
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, fmt.Errorf("build query: %w", err)
	}
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if len(out.Items) == 0 {
		return nil, nil
	}
	return out.Items[0], nil
}

// The checks below enforce what the in-memory and SQLite stores also
// enforce (each store keeps its own copy; consent has no CheckWrite yet).
