// Package dynamostore is the consent.Store on Amazon DynamoDB, used by the
// Lambda functions. It keeps everything in one table (see the README, "Data
// model"):
//
//	item          pk               sk                gsi1pk         gsi1sk                        other attributes
//	ledger event  SUB#<subscriber> EVT#<seq %010d>   MAG#<magnet>   <at>#<subscriber>#<seq %010d> type="event", the event fields
//	claim         CLAIM#<key>      CLAIM             -              -                             value (absent if empty), expires_at (Unix seconds, the TTL attribute)
//	wording       WORDING#<id>     VERSION           -              -                             wording, privacy_policy_url, frequency, controller, archived_at
//	wording use   WORDING#<id>     MAG#<magnet>      -              -                             archived_at
//	delivery job  JOB#<id>         JOB               JOBS#due (1)   <created_at>#<id>             type="job", the job fields, expires_at (Unix seconds, TTL)
//
// (1) only while the job is due (pending or sending): a sparse index entry,
// removed when the job moves to any other state (sent, failed, skipped).
//
// where <at>, archived_at and a job's times (created_at, updated_at,
// lease_until) are times in UTC as "2006-01-02T15:04:05.000000000Z" (RFC
// 3339 with a fixed-width fraction), so that text order is time order. Index
// gsi1 lists a magnet's events by time, and the due jobs oldest first. A
// wording version and the magnets using it share a partition, so one Query
// reads them together.
//
// The table's stream (NEW_IMAGE) announces every new job: an INSERT whose
// NewImage has type "job" and the job's id.
//
// The client is injected; the store never loads AWS configuration itself.
package dynamostore

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/unbundled/unbundled/shared/consent"
)

// API is the part of the DynamoDB client the store uses. *dynamodb.Client
// implements it.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Key prefixes and names of the single-table design.
const (
	subscriberPrefix = "SUB#"
	eventPrefix      = "EVT#"
	magnetPrefix     = "MAG#"
	claimPrefix      = "CLAIM#"
	claimSK          = "CLAIM"
	wordingPrefix    = "WORDING#"
	wordingSK        = "VERSION"
	itemTypeEvent    = "event"
	gsi1Index        = "gsi1" // magnets' events by time; due jobs by age
	jobPrefix        = "JOB#"
	jobSK            = "JOB"
	dueJobsKey       = "JOBS#due"
	itemTypeJob      = "job"
)

// timeLayout formats event times as fixed-width UTC text that sorts in time
// order (years 0000–9999).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

var (
	minTime = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// Store is a consent.Store on one DynamoDB table. It is safe for concurrent
// use.
type Store struct {
	client API
	table  string
}

var _ consent.Store = (*Store)(nil)

// New returns a store on table, reached through client.
func New(client API, table string) *Store {
	return &Store{client: client, table: table}
}

// eventItem is a ledger event as stored.
type eventItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	GSI1PK string `dynamodbav:"gsi1pk"`
	GSI1SK string `dynamodbav:"gsi1sk"`
	Type   string `dynamodbav:"type"`

	Subscriber       string `dynamodbav:"subscriber"`
	Seq              int    `dynamodbav:"seq"`
	ID               string `dynamodbav:"id"`
	EventType        string `dynamodbav:"event_type"`
	At               string `dynamodbav:"at"`
	Magnet           string `dynamodbav:"magnet"`
	Email            string `dynamodbav:"email,omitempty"`
	Name             string `dynamodbav:"name,omitempty"`
	Method           string `dynamodbav:"method,omitempty"`
	WordingVersion   string `dynamodbav:"wording_version,omitempty"`
	Wording          string `dynamodbav:"wording,omitempty"`
	PrivacyPolicyURL string `dynamodbav:"privacy_policy_url,omitempty"`
	Frequency        string `dynamodbav:"frequency,omitempty"`
	Controller       string `dynamodbav:"controller,omitempty"`
	// ConfirmationRequired is absent on events stored before it existed,
	// which read back as false: none of them needed confirmation.
	ConfirmationRequired bool   `dynamodbav:"confirmation_required,omitempty"`
	SourceIP             string `dynamodbav:"source_ip,omitempty"`
	UserAgent            string `dynamodbav:"user_agent,omitempty"`
	RequestID            string `dynamodbav:"request_id,omitempty"`
}

// claimItem is a claim record; DynamoDB deletes it some time after
// expires_at.
type claimItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Value     string `dynamodbav:"value,omitempty"`
	ExpiresAt int64  `dynamodbav:"expires_at"`
}

// wordingItem is an archived wording version; never overwritten.
type wordingItem struct {
	PK               string `dynamodbav:"pk"`
	SK               string `dynamodbav:"sk"`
	Wording          string `dynamodbav:"wording"`
	PrivacyPolicyURL string `dynamodbav:"privacy_policy_url"`
	Frequency        string `dynamodbav:"frequency"`
	Controller       string `dynamodbav:"controller"`
	ArchivedAt       string `dynamodbav:"archived_at"`
}

// wordingLinkItem records that a magnet uses a wording version, since
// archived_at.
type wordingLinkItem struct {
	PK         string `dynamodbav:"pk"`
	SK         string `dynamodbav:"sk"`
	ArchivedAt string `dynamodbav:"archived_at"`
}

func subscriberKey(subscriber string) string { return subscriberPrefix + subscriber }
func eventKey(seq int) string                { return fmt.Sprintf("%s%010d", eventPrefix, seq) }
func magnetKey(magnetID string) string       { return magnetPrefix + magnetID }
func wordingKey(id string) string            { return wordingPrefix + id }

// magnetSortKey orders a magnet's events by time, subscriber, seq.
func magnetSortKey(at string, subscriber string, seq int) string {
	return fmt.Sprintf("%s#%s#%010d", at, subscriber, seq)
}

func toItem(e consent.Event) eventItem {
	at := e.At.UTC().Format(timeLayout)
	return eventItem{
		PK: subscriberKey(e.Subscriber), SK: eventKey(e.Seq),
		GSI1PK: magnetKey(e.Magnet), GSI1SK: magnetSortKey(at, e.Subscriber, e.Seq),
		Type:       itemTypeEvent,
		Subscriber: e.Subscriber, Seq: e.Seq, ID: e.ID, EventType: string(e.Type), At: at, Magnet: e.Magnet,
		Email: e.Email, Name: e.Name, Method: e.Method, WordingVersion: e.WordingVersion, Wording: e.Wording,
		PrivacyPolicyURL: e.PrivacyPolicyURL, Frequency: e.Frequency, Controller: e.Controller,
		SourceIP: e.SourceIP, UserAgent: e.UserAgent, RequestID: e.RequestID,
		ConfirmationRequired: e.ConfirmationRequired,
	}
}

func (it eventItem) event() (consent.Event, error) {
	at, err := time.Parse(timeLayout, it.At)
	if err != nil {
		return consent.Event{}, fmt.Errorf("event %s/%s: bad time: %w", it.PK, it.SK, err)
	}
	return consent.Event{
		Subscriber: it.Subscriber, Seq: it.Seq, ID: it.ID, Type: consent.EventType(it.EventType), At: at, Magnet: it.Magnet,
		Email: it.Email, Name: it.Name, Method: it.Method, WordingVersion: it.WordingVersion, Wording: it.Wording,
		PrivacyPolicyURL: it.PrivacyPolicyURL, Frequency: it.Frequency, Controller: it.Controller,
		SourceIP: it.SourceIP, UserAgent: it.UserAgent, RequestID: it.RequestID,
		ConfirmationRequired: it.ConfirmationRequired,
	}, nil
}

func eventsFromItems(items []map[string]types.AttributeValue) ([]consent.Event, error) {
	var stored []eventItem
	if err := attributevalue.UnmarshalListOfMaps(items, &stored); err != nil {
		return nil, fmt.Errorf("decode events: %w", err)
	}
	events := make([]consent.Event, 0, len(stored))
	for _, it := range stored {
		e, err := it.event()
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, nil
}

// Append writes events, all or nothing: it is Commit with events alone. The
// events must belong to one subscriber and have consecutive Seq values
// starting at 1 or more; otherwise nothing is written and the error does not
// wrap consent.ErrConflict. If a position is taken, or a concurrent
// transaction made DynamoDB cancel this one, the error wraps
// consent.ErrConflict: re-read the ledger and decide again.
func (s *Store) Append(ctx context.Context, events []consent.Event) error {
	return s.Commit(ctx, consent.Write{Events: events})
}

// Ledger returns the subscriber's events by Seq, or none if there are none.
// It reads strongly consistently, so it sees every Append that returned.
func (s *Store) Ledger(ctx context.Context, subscriber string) ([]consent.Event, error) {
	key := expression.Key("pk").Equal(expression.Value(subscriberKey(subscriber))).
		And(expression.Key("sk").BeginsWith(eventPrefix))
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, fmt.Errorf("read ledger: build query: %w", err)
	}
	pages := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
	})
	var items []map[string]types.AttributeValue
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("read ledger: %w", err)
		}
		items = append(items, out.Items...)
	}
	events, err := eventsFromItems(items)
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	return events, nil
}

// EventsByMagnet returns magnetID's events with from <= At < to, ordered by
// At, then subscriber, then Seq, at most limit of them. The returned cursor
// is empty when no event follows; otherwise pass it back with the same
// arguments for the next page. It fails if limit < 1 or the cursor was not
// made by this store.
//
// It reads index gsi1, which DynamoDB updates asynchronously: an event
// appended a moment ago may not be listed yet.
func (s *Store) EventsByMagnet(ctx context.Context, magnetID string, from, to time.Time, limit int, cursor string) ([]consent.Event, string, error) {
	if limit < 1 {
		return nil, "", fmt.Errorf("events by magnet: limit %d, want at least 1", limit)
	}
	start, err := s.decodeCursor(cursor, magnetID)
	if err != nil {
		return nil, "", fmt.Errorf("events by magnet: %w", err)
	}
	// gsi1sk starts with the fixed-width time followed by '#', so
	// [from, to) is the key range [from, last+"$"] with last = to-1ns:
	// '$' sorts just after '#'.
	from, last := from.UTC(), to.UTC().Add(-time.Nanosecond)
	if from.Before(minTime) {
		from = minTime
	}
	if last.After(maxTime) {
		last = maxTime
	}
	if last.Before(from) {
		return nil, "", nil
	}
	key := expression.Key("gsi1pk").Equal(expression.Value(magnetKey(magnetID))).
		And(expression.Key("gsi1sk").Between(expression.Value(from.Format(timeLayout)), expression.Value(last.Format(timeLayout)+"$")))
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, "", fmt.Errorf("events by magnet: build query: %w", err)
	}

	// Fetch one item more than asked to learn whether another page exists:
	// DynamoDB may return a LastEvaluatedKey with nothing after it, and may
	// stop a page early at 1 MB.
	want := min(limit, math.MaxInt32-1) + 1
	var items []map[string]types.AttributeValue
	for {
		out, err := s.client.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			IndexName:                 aws.String(gsi1Index),
			KeyConditionExpression:    expr.KeyCondition(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
			ExclusiveStartKey:         start,
			Limit:                     aws.Int32(int32(want - len(items))),
		})
		if err != nil {
			return nil, "", fmt.Errorf("events by magnet: %w", err)
		}
		items = append(items, out.Items...)
		if len(items) >= want || len(out.LastEvaluatedKey) == 0 {
			break
		}
		start = out.LastEvaluatedKey
	}
	events, err := eventsFromItems(items)
	if err != nil {
		return nil, "", fmt.Errorf("events by magnet: %w", err)
	}
	if len(events) <= limit {
		return events, "", nil
	}
	events = events[:limit]
	lastEvent := events[limit-1]
	sortKey := magnetSortKey(lastEvent.At.Format(timeLayout), lastEvent.Subscriber, lastEvent.Seq)
	return events, base64.RawURLEncoding.EncodeToString([]byte(sortKey)), nil
}

// decodeCursor turns a cursor (the base64url gsi1sk of the last event
// returned) back into the ExclusiveStartKey of the next query. An empty
// cursor gives a nil key: start at the beginning.
func (s *Store) decodeCursor(cursor, magnetID string) (map[string]types.AttributeValue, error) {
	if cursor == "" {
		return nil, nil
	}
	malformed := errors.New("malformed cursor")
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, malformed
	}
	// <at>#<subscriber>#<seq %010d>: the time and seq have fixed widths, so
	// the subscriber may contain '#'.
	sortKey := string(raw)
	const seqWidth = 10
	if len(sortKey) < len(timeLayout)+1+1+1+seqWidth {
		return nil, malformed
	}
	at := sortKey[:len(timeLayout)]
	subscriber := sortKey[len(timeLayout)+1 : len(sortKey)-seqWidth-1]
	seq, err := strconv.Atoi(sortKey[len(sortKey)-seqWidth:])
	if _, perr := time.Parse(timeLayout, at); perr != nil || err != nil || seq < 1 ||
		magnetSortKey(at, subscriber, seq) != sortKey {
		return nil, malformed
	}
	return map[string]types.AttributeValue{
		"pk":     &types.AttributeValueMemberS{Value: subscriberKey(subscriber)},
		"sk":     &types.AttributeValueMemberS{Value: eventKey(seq)},
		"gsi1pk": &types.AttributeValueMemberS{Value: magnetKey(magnetID)},
		"gsi1sk": &types.AttributeValueMemberS{Value: sortKey},
	}, nil
}

// ceilUnix is t in Unix seconds, rounded up.
func ceilUnix(t time.Time) int64 {
	if t.Nanosecond() > 0 {
		return t.Unix() + 1
	}
	return t.Unix()
}

// ArchiveWording stores v under v.ID unless that id is already archived, then
// records that magnetID uses it: a PutItem of the version item conditional on
// its absence, then a PutItem of the link item conditional on its absence.
// v.ArchivedAt is ignored; a version keeps the time of its first archive. If
// v.ID is archived with different content the error wraps
// consent.ErrConflict and nothing is written. A refused condition returns the
// stored item (ReturnValuesOnConditionCheckFailure), so comparing content
// needs no extra read. It fails, without wrapping consent.ErrConflict, if
// magnetID or v.ID is empty or at is outside years 0000-9999.
//
// The two puts are not one transaction (a refused condition would cancel
// it): if the second fails, the version is archived without the link, and
// Wording reports it not found for magnetID until a retry succeeds.
func (s *Store) ArchiveWording(ctx context.Context, magnetID string, v consent.WordingVersion, at time.Time) error {
	if err := consent.CheckArchive(magnetID, v, at); err != nil {
		return err
	}
	archivedAt := at.UTC().Format(timeLayout)
	version, err := attributevalue.MarshalMap(wordingItem{
		PK: wordingKey(v.ID), SK: wordingSK,
		Wording: v.Wording, PrivacyPolicyURL: v.PrivacyPolicyURL, Frequency: v.Frequency, Controller: v.Controller,
		ArchivedAt: archivedAt,
	})
	if err != nil {
		return fmt.Errorf("archive wording %s: encode: %w", v.ID, err)
	}
	link, err := attributevalue.MarshalMap(wordingLinkItem{PK: wordingKey(v.ID), SK: magnetKey(magnetID), ArchivedAt: archivedAt})
	if err != nil {
		return fmt.Errorf("archive wording %s: encode link: %w", v.ID, err)
	}
	expr, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build()
	if err != nil {
		return fmt.Errorf("archive wording %s: build condition: %w", v.ID, err)
	}

	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                version,
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var exists *types.ConditionalCheckFailedException
	if errors.As(err, &exists) {
		stored, err := s.storedWording(ctx, v.ID, exists.Item)
		if err != nil {
			return fmt.Errorf("archive wording %s: %w", v.ID, err)
		}
		if !stored.SameContent(v) {
			return fmt.Errorf("archive wording %s: different content under the same id: %w", v.ID, consent.ErrConflict)
		}
	} else if err != nil {
		return fmt.Errorf("archive wording %s: %w", v.ID, err)
	}

	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     link,
		ConditionExpression:      expr.Condition(),
		ExpressionAttributeNames: expr.Names(),
	})
	if errors.As(err, &exists) {
		return nil // already linked, perhaps earlier: keep the first time
	}
	if err != nil {
		return fmt.Errorf("archive wording %s: link magnet %s: %w", v.ID, magnetID, err)
	}
	return nil
}

// storedWording decodes the version item a refused put returned, or reads it
// if the response carried none (DynamoDB always returns it; an emulator may
// not).
func (s *Store) storedWording(ctx context.Context, id string, item map[string]types.AttributeValue) (consent.WordingVersion, error) {
	if len(item) == 0 {
		v, _, err := s.readWording(ctx, id, "")
		if err != nil {
			return consent.WordingVersion{}, fmt.Errorf("read stored version: %w", err)
		}
		return v, nil
	}
	var it wordingItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return consent.WordingVersion{}, fmt.Errorf("decode stored version: %w", err)
	}
	return it.version(id)
}

func (it wordingItem) version(id string) (consent.WordingVersion, error) {
	at, err := time.Parse(timeLayout, it.ArchivedAt)
	if err != nil {
		return consent.WordingVersion{}, fmt.Errorf("wording %s: bad archived_at: %w", id, err)
	}
	return consent.WordingVersion{
		ID: id, Wording: it.Wording, PrivacyPolicyURL: it.PrivacyPolicyURL,
		Frequency: it.Frequency, Controller: it.Controller, ArchivedAt: at,
	}, nil
}

// Wording returns archived version id if magnetID uses it; otherwise an
// error wrapping consent.ErrNotFound. It reads the version and the magnets
// using it with one strongly consistent Query, so it sees every
// ArchiveWording that returned.
func (s *Store) Wording(ctx context.Context, magnetID, id string) (consent.WordingVersion, error) {
	v, linked, err := s.readWording(ctx, id, magnetID)
	switch {
	case err != nil:
		return consent.WordingVersion{}, fmt.Errorf("wording %s of magnet %s: %w", id, magnetID, err)
	case v.ID == "" || !linked:
		return consent.WordingVersion{}, fmt.Errorf("wording %s of magnet %s: %w", id, magnetID, consent.ErrNotFound)
	}
	return v, nil
}

// readWording queries partition WORDING#<id>: the version item (zero if
// absent) and whether a link item for magnetID exists.
func (s *Store) readWording(ctx context.Context, id, magnetID string) (v consent.WordingVersion, linked bool, err error) {
	key := expression.Key("pk").Equal(expression.Value(wordingKey(id)))
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return consent.WordingVersion{}, false, fmt.Errorf("build query: %w", err)
	}
	pages := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
	})
	linkKey := magnetKey(magnetID)
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return consent.WordingVersion{}, false, err
		}
		for _, item := range out.Items {
			var sk string
			if err := attributevalue.Unmarshal(item["sk"], &sk); err != nil {
				return consent.WordingVersion{}, false, fmt.Errorf("decode sort key: %w", err)
			}
			switch {
			case sk == wordingSK:
				var it wordingItem
				if err := attributevalue.UnmarshalMap(item, &it); err != nil {
					return consent.WordingVersion{}, false, fmt.Errorf("decode version: %w", err)
				}
				if v, err = it.version(id); err != nil {
					return consent.WordingVersion{}, false, err
				}
			case magnetID != "" && sk == linkKey:
				linked = true
			}
		}
	}
	return v, linked, nil
}
