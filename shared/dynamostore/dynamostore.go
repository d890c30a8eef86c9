// Package dynamostore is the consent.Store on Amazon DynamoDB, used by the
// Lambda functions. It keeps everything in one table (see the README, "Data
// model"):
//
//	item          pk               sk                gsi1pk         gsi1sk                        other attributes
//	ledger event  SUB#<subscriber> EVT#<seq %010d>   -              -                             type="event", the event fields
//	claim         CLAIM#<key>      CLAIM             -              -                             value (absent if empty), expires_at (Unix seconds, the TTL attribute)
//	wording       WORDING#<id>     VERSION           -              -                             wording, privacy_policy_url, frequency, controller, archived_at
//	wording use   WORDING#<id>     MAG#<magnet>      -              -                             archived_at
//	delivery job  JOB#<id>         JOB               JOBS#due (1)   <created_at>#<id>             type="job", the job fields, expires_at (Unix seconds, TTL)
//	tombstone     ERASED#<id>      TOMBSTONE         -              -                             at, reason (an erased person: id is a keyed hash of the address)
//
// (1) only while the job is due (pending or sending): a sparse index entry,
// removed when the job moves to any other state (sent, failed, skipped).
//
// where <at>, archived_at, a tombstone's at and a job's times (created_at,
// updated_at, lease_until) are times in UTC as
// "2006-01-02T15:04:05.000000000Z" (RFC 3339 with a fixed-width fraction),
// so that text order is time order. Index gsi1 lists the due jobs oldest
// first. A wording version and the magnets using it share a partition, so
// one Query reads them together.
//
// The table's stream (NEW_IMAGE) announces every new job: an INSERT whose
// NewImage has type "job" and the job's id.
//
// Erasure (Erase), the ledger export (ScanEvents) and the operator's job
// listing (ListJobs) are the only operations that Scan the table; nothing
// on a request's path does.
//
// The client is injected; the store never loads AWS configuration itself.
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
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/unbundled/unbundled/shared/consent"
)

// API is the part of the DynamoDB client the store uses. *dynamodb.Client
// implements it. Only Erase deletes items and only Erase, ScanEvents and
// ListJobs scan, so the functions that never call them need neither permission.
type API interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
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
	gsi1Index        = "gsi1" // due jobs by age
	jobPrefix        = "JOB#"
	jobSK            = "JOB"
	dueJobsKey       = "JOBS#due"
	itemTypeJob      = "job"
)

// timeLayout formats event times as fixed-width UTC text that sorts in time
// order (years 0000–9999).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

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
	PK   string `dynamodbav:"pk"`
	SK   string `dynamodbav:"sk"`
	Type string `dynamodbav:"type"`

	Subscriber       string `dynamodbav:"subscriber"`
	Seq              int    `dynamodbav:"seq"`
	ID               string `dynamodbav:"id"`
	EventType        string `dynamodbav:"event_type"`
	At               string `dynamodbav:"at"`
	Magnet           string `dynamodbav:"magnet"`
	Purpose          string `dynamodbav:"purpose,omitempty"`
	Email            string `dynamodbav:"email,omitempty"`
	Name             string `dynamodbav:"name,omitempty"`
	Method           string `dynamodbav:"method,omitempty"`
	WordingVersion   string `dynamodbav:"wording_version,omitempty"`
	Wording          string `dynamodbav:"wording,omitempty"`
	PrivacyPolicyURL string `dynamodbav:"privacy_policy_url,omitempty"`
	Frequency        string `dynamodbav:"frequency,omitempty"`
	Controller       string `dynamodbav:"controller,omitempty"`
	// NoticeVersion (signup and granted events) and PageURL (signup events)
	// are absent on events stored before they existed.
	NoticeVersion string `dynamodbav:"notice_version,omitempty"`
	PageURL       string `dynamodbav:"page_url,omitempty"`
	// WordingStatus (granted events) is absent on events stored before it
	// existed.
	WordingStatus string `dynamodbav:"wording_status,omitempty"`
	// ConfirmationRequired is absent on events stored before it existed,
	// which read back as false: none of them needed confirmation.
	ConfirmationRequired bool   `dynamodbav:"confirmation_required,omitempty"`
	Confirms             string `dynamodbav:"confirms,omitempty"`
	Delivery             string `dynamodbav:"delivery,omitempty"`
	SourceIP             string `dynamodbav:"source_ip,omitempty"`
	UserAgent            string `dynamodbav:"user_agent,omitempty"`
	RequestID            string `dynamodbav:"request_id,omitempty"`
	// SubscriberType and Organisation (a map: name, role, number, kind)
	// are set on a signup event only where the form asked; absent
	// otherwise.
	SubscriberType string            `dynamodbav:"subscriber_type,omitempty"`
	Organisation   *organisationItem `dynamodbav:"organisation,omitempty"`
	// Basis, Import (a map: file, digest, operator, source, row),
	// SoftOptIn (a map: sale_date, sale_reference, category,
	// opt_out_offered) and LIAReference are set on an imported event;
	// absent otherwise, and on every event stored before they existed.
	Basis        string         `dynamodbav:"basis,omitempty"`
	Import       *importItem    `dynamodbav:"import,omitempty"`
	SoftOptIn    *softOptInItem `dynamodbav:"soft_opt_in,omitempty"`
	LIAReference string         `dynamodbav:"lia_reference,omitempty"`
	// Reason is set on a suppressed or unsuppressed event the operator
	// recorded; absent otherwise.
	Reason string `dynamodbav:"reason,omitempty"`
}

// organisationItem is consent.Organisation as stored.
type organisationItem struct {
	Name   string `dynamodbav:"name,omitempty"`
	Role   string `dynamodbav:"role,omitempty"`
	Number string `dynamodbav:"number,omitempty"`
	Kind   string `dynamodbav:"kind,omitempty"`
}

// importItem is consent.ImportSource as stored.
type importItem struct {
	File     string `dynamodbav:"file,omitempty"`
	Digest   string `dynamodbav:"digest,omitempty"`
	Operator string `dynamodbav:"operator,omitempty"`
	Source   string `dynamodbav:"source,omitempty"`
	Row      int    `dynamodbav:"row,omitempty"`
}

// softOptInItem is consent.SoftOptIn as stored.
type softOptInItem struct {
	SaleDate      string `dynamodbav:"sale_date,omitempty"`
	SaleReference string `dynamodbav:"sale_reference,omitempty"`
	Category      string `dynamodbav:"category,omitempty"`
	OptOutOffered string `dynamodbav:"opt_out_offered,omitempty"`
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

func toItem(e consent.Event) eventItem {
	at := e.At.UTC().Format(timeLayout)
	it := eventItem{
		PK: subscriberKey(e.Subscriber), SK: eventKey(e.Seq),
		Type:       itemTypeEvent,
		Subscriber: e.Subscriber, Seq: e.Seq, ID: e.ID, EventType: string(e.Type), At: at, Magnet: e.Magnet, Purpose: e.Purpose,
		Email: e.Email, Name: e.Name, Method: e.Method, WordingVersion: e.WordingVersion, Wording: e.Wording,
		PrivacyPolicyURL: e.PrivacyPolicyURL, Frequency: e.Frequency, Controller: e.Controller,
		NoticeVersion: e.NoticeVersion, PageURL: e.PageURL, WordingStatus: e.WordingStatus,
		SourceIP: e.SourceIP, UserAgent: e.UserAgent, RequestID: e.RequestID,
		ConfirmationRequired: e.ConfirmationRequired, Confirms: e.Confirms, Delivery: e.Delivery,
		SubscriberType: e.SubscriberType,
		Basis:          string(e.Basis), LIAReference: e.LIAReference, Reason: e.Reason,
	}
	if o := e.Organisation; o != (consent.Organisation{}) {
		it.Organisation = &organisationItem{Name: o.Name, Role: o.Role, Number: o.Number, Kind: o.Kind}
	}
	if i := e.Import; i != (consent.ImportSource{}) {
		it.Import = &importItem{File: i.File, Digest: i.Digest, Operator: i.Operator, Source: i.Source, Row: i.Row}
	}
	if o := e.SoftOptIn; o != (consent.SoftOptIn{}) {
		it.SoftOptIn = &softOptInItem{SaleDate: o.SaleDate, SaleReference: o.SaleReference, Category: o.Category, OptOutOffered: o.OptOutOffered}
	}
	return it
}

func (it eventItem) event() (consent.Event, error) {
	at, err := time.Parse(timeLayout, it.At)
	if err != nil {
		return consent.Event{}, fmt.Errorf("event %s/%s: bad time: %w", it.PK, it.SK, err)
	}
	e := consent.Event{
		Subscriber: it.Subscriber, Seq: it.Seq, ID: it.ID, Type: consent.EventType(it.EventType), At: at, Magnet: it.Magnet, Purpose: it.Purpose,
		Email: it.Email, Name: it.Name, Method: it.Method, WordingVersion: it.WordingVersion, Wording: it.Wording,
		PrivacyPolicyURL: it.PrivacyPolicyURL, Frequency: it.Frequency, Controller: it.Controller,
		NoticeVersion: it.NoticeVersion, PageURL: it.PageURL, WordingStatus: it.WordingStatus,
		SourceIP: it.SourceIP, UserAgent: it.UserAgent, RequestID: it.RequestID,
		ConfirmationRequired: it.ConfirmationRequired, Confirms: it.Confirms, Delivery: it.Delivery,
		SubscriberType: it.SubscriberType,
		Basis:          consent.Basis(it.Basis), LIAReference: it.LIAReference, Reason: it.Reason,
	}
	if o := it.Organisation; o != nil {
		e.Organisation = consent.Organisation{Name: o.Name, Role: o.Role, Number: o.Number, Kind: o.Kind}
	}
	if i := it.Import; i != nil {
		e.Import = consent.ImportSource{File: i.File, Digest: i.Digest, Operator: i.Operator, Source: i.Source, Row: i.Row}
	}
	if o := it.SoftOptIn; o != nil {
		e.SoftOptIn = consent.SoftOptIn{SaleDate: o.SaleDate, SaleReference: o.SaleReference, Category: o.Category, OptOutOffered: o.OptOutOffered}
	}
	return e, nil
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

// Events returns the subscriber's events by Seq, or none if there are none.
// It reads strongly consistently, so it sees every Commit that returned.
func (s *Store) Events(ctx context.Context, subscriber string) ([]consent.Event, error) {
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
