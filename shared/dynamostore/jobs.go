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

// jobItem is a delivery job as stored. Times are UTC in timeLayout (RFC
// 3339 with a fixed-width fraction, so that lease_until compares as text in
// a condition); empty ones are absent. expires_at is the TTL attribute, in
// Unix seconds, absent for a job that never expires. gsi1pk and gsi1sk are
// present only while the job is due (pending or sending).
type jobItem struct {
	PK     string `dynamodbav:"pk"`
	SK     string `dynamodbav:"sk"`
	GSI1PK string `dynamodbav:"gsi1pk,omitempty"`
	GSI1SK string `dynamodbav:"gsi1sk,omitempty"`
	Type   string `dynamodbav:"type"`

	ID         string `dynamodbav:"id"`
	Kind       string `dynamodbav:"kind,omitempty"`
	Subscriber string `dynamodbav:"subscriber,omitempty"`
	Magnet     string `dynamodbav:"magnet,omitempty"`
	Email      string `dynamodbav:"email,omitempty"`
	Name       string `dynamodbav:"name,omitempty"`
	State      string `dynamodbav:"state"`
	Attempts   int    `dynamodbav:"attempts"`
	CreatedAt  string `dynamodbav:"created_at"`
	UpdatedAt  string `dynamodbav:"updated_at,omitempty"`
	LeaseUntil string `dynamodbav:"lease_until,omitempty"`
	BaseURL    string `dynamodbav:"base_url,omitempty"`
	MessageID  string `dynamodbav:"message_id,omitempty"`
	Reason     string `dynamodbav:"reason,omitempty"`
	ExpiresAt  *int64 `dynamodbav:"expires_at,omitempty"`
}

func jobKey(id string) string { return jobPrefix + id }

// dueSortKey orders due jobs by creation time, then id.
func dueSortKey(created time.Time, id string) string {
	return created.UTC().Format(timeLayout) + "#" + id
}

// isDue reports whether a job in state is listed in the due-jobs index.
func isDue(state consent.JobState) bool {
	return state == consent.JobPending || state == consent.JobSending
}

// itemTime formats t for a job attribute: "" (absent) if zero.
func itemTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// ttl is the expires_at attribute of t: nil (absent) if zero.
func ttl(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := ceilUnix(t)
	return &v
}

func toJobItem(j consent.Job) jobItem {
	it := jobItem{
		PK: jobKey(j.ID), SK: jobSK, Type: itemTypeJob,
		ID: j.ID, Kind: string(j.Kind), Subscriber: j.Subscriber, Magnet: j.Magnet, Email: j.Email, Name: j.Name,
		State: string(j.State), Attempts: j.Attempts,
		CreatedAt: j.CreatedAt.UTC().Format(timeLayout), UpdatedAt: itemTime(j.UpdatedAt), LeaseUntil: itemTime(j.LeaseUntil),
		BaseURL: j.BaseURL, MessageID: j.MessageID, Reason: j.Reason, ExpiresAt: ttl(j.ExpiresAt),
	}
	if isDue(j.State) {
		it.GSI1PK, it.GSI1SK = dueJobsKey, dueSortKey(j.CreatedAt, j.ID)
	}
	return it
}

func (it jobItem) job() (consent.Job, error) {
	var times [3]time.Time
	for i, s := range []string{it.CreatedAt, it.UpdatedAt, it.LeaseUntil} {
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return consent.Job{}, fmt.Errorf("job %s: bad time: %w", it.ID, err)
		}
		times[i] = t.UTC()
	}
	j := consent.Job{
		ID: it.ID, Kind: consent.JobKind(it.Kind), Subscriber: it.Subscriber, Magnet: it.Magnet, Email: it.Email, Name: it.Name,
		State: consent.JobState(it.State), Attempts: it.Attempts,
		CreatedAt: times[0], UpdatedAt: times[1], LeaseUntil: times[2],
		BaseURL: it.BaseURL, MessageID: it.MessageID, Reason: it.Reason,
	}
	if it.ExpiresAt != nil {
		j.ExpiresAt = time.Unix(*it.ExpiresAt, 0).UTC()
	}
	return j, nil
}

func decodeJob(item map[string]types.AttributeValue) (consent.Job, error) {
	var it jobItem
	if err := attributevalue.UnmarshalMap(item, &it); err != nil {
		return consent.Job{}, fmt.Errorf("decode job: %w", err)
	}
	return it.job()
}

// Job returns the job with id, or an error wrapping consent.ErrNotFound. It
// reads with a strongly consistent Query, so it sees every Commit and
// UpdateJob that returned. ExpiresAt comes back in whole seconds, rounded
// up.
func (s *Store) Job(ctx context.Context, id string) (consent.Job, error) {
	item, err := s.queryOne(ctx, jobKey(id), jobSK)
	if err != nil {
		return consent.Job{}, fmt.Errorf("job %s: %w", id, err)
	}
	if item == nil {
		return consent.Job{}, fmt.Errorf("job %s: %w", id, consent.ErrNotFound)
	}
	j, err := decodeJob(item)
	if err != nil {
		return consent.Job{}, fmt.Errorf("job %s: %w", id, err)
	}
	return j, nil
}

// UpdateJob applies u with one conditional UpdateItem and returns the job
// as updated (ReturnValues ALL_NEW). Every field u names replaces the
// job's: a zero LeaseUntil, MessageID, Reason or ExpiresAt removes the
// attribute. Moving the job out of pending and sending (to sent, failed,
// skipped...) removes it from the due-jobs index; moving it back reads its
// creation time first (a Query) to list it again.
//
// The condition is that the job exists and is in state u.From or, with
// u.LeaseExpiredBefore set, sending under a lease (lease_until) that ended
// before it. Otherwise nothing changes and the error wraps
// consent.ErrConflict, or consent.ErrNotFound if there is no such job. It
// fails, wrapping neither, if u has an empty id or target state, or a time
// outside years 0000-9999.
func (s *Store) UpdateJob(ctx context.Context, u consent.JobUpdate) (consent.Job, error) {
	if err := consent.CheckJobUpdate(u); err != nil {
		return consent.Job{}, err
	}
	upd := expression.Set(expression.Name("state"), expression.Value(string(u.To))).
		Set(expression.Name("attempts"), expression.Value(u.Attempts))
	for _, a := range []struct{ name, value string }{
		{"updated_at", itemTime(u.UpdatedAt)},
		{"lease_until", itemTime(u.LeaseUntil)},
		{"message_id", u.MessageID},
		{"reason", u.Reason},
	} {
		if a.value == "" {
			upd = upd.Remove(expression.Name(a.name))
		} else {
			upd = upd.Set(expression.Name(a.name), expression.Value(a.value))
		}
	}
	if exp := ttl(u.ExpiresAt); exp == nil {
		upd = upd.Remove(expression.Name("expires_at"))
	} else {
		upd = upd.Set(expression.Name("expires_at"), expression.Value(*exp))
	}
	switch {
	case !isDue(u.To):
		upd = upd.Remove(expression.Name("gsi1pk")).Remove(expression.Name("gsi1sk"))
	case !isDue(u.From):
		// A job the condition lets through in a due state still has its
		// index attributes; one in u.From may not. Its creation time and id
		// never change, so reading them before the conditional write is
		// safe.
		cur, err := s.Job(ctx, u.ID)
		if err != nil {
			return consent.Job{}, fmt.Errorf("update job %s: %w", u.ID, err)
		}
		upd = upd.Set(expression.Name("gsi1pk"), expression.Value(dueJobsKey)).
			Set(expression.Name("gsi1sk"), expression.Value(dueSortKey(cur.CreatedAt, cur.ID)))
	}

	inState := expression.Name("state").Equal(expression.Value(string(u.From)))
	if !u.LeaseExpiredBefore.IsZero() {
		leaseEnded := expression.AttributeNotExists(expression.Name("lease_until")).
			Or(expression.Name("lease_until").LessThan(expression.Value(u.LeaseExpiredBefore.UTC().Format(timeLayout))))
		inState = inState.Or(expression.Name("state").Equal(expression.Value(string(consent.JobSending))).And(leaseEnded))
	}
	cond := expression.AttributeExists(expression.Name("pk")).And(inState)
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return consent.Job{}, fmt.Errorf("update job %s: build expression: %w", u.ID, err)
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: jobKey(u.ID)},
			"sk": &types.AttributeValueMemberS{Value: jobSK},
		},
		UpdateExpression:                    expr.Update(),
		ConditionExpression:                 expr.Condition(),
		ExpressionAttributeNames:            expr.Names(),
		ExpressionAttributeValues:           expr.Values(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return consent.Job{}, s.refusedUpdate(ctx, u, failed.Item)
	}
	if err != nil {
		return consent.Job{}, fmt.Errorf("update job %s: %w", u.ID, err)
	}
	j, err := decodeJob(out.Attributes)
	if err != nil {
		return consent.Job{}, fmt.Errorf("update job %s: %w", u.ID, err)
	}
	return j, nil
}

// refusedUpdate is the error of an update whose condition failed: a
// conflict if the job exists, else not found. old is the item DynamoDB
// returned with the failure; if it is empty (no such item, or an emulator
// that returns none) the job is read.
func (s *Store) refusedUpdate(ctx context.Context, u consent.JobUpdate, old map[string]types.AttributeValue) error {
	if len(old) == 0 {
		var err error
		if old, err = s.queryOne(ctx, jobKey(u.ID), jobSK); err != nil {
			return fmt.Errorf("update job %s: read refused job: %w", u.ID, err)
		}
		if old == nil {
			return fmt.Errorf("update job %s: %w", u.ID, consent.ErrNotFound)
		}
	}
	state := "in another state"
	if j, err := decodeJob(old); err == nil {
		state = string(j.State)
	}
	return fmt.Errorf("update job %s from %s: job is %s: %w", u.ID, u.From, state, consent.ErrConflict)
}

// duePageSize bounds each page DueJobs reads from the index.
const duePageSize = 100

// DueJobs returns up to limit jobs that are pending, or sending under a
// lease that ended before now, oldest CreatedAt first, then by id. It
// queries the sparse index gsi1 (partition JOBS#due, which holds pending
// and sending jobs in that order) page by page and filters leases in Go,
// until it has limit jobs or the index ends. The index is updated
// asynchronously: a job committed or updated a moment ago may be missing or
// stale, so act on a listed job only through UpdateJob's condition. It
// fails if limit < 1.
func (s *Store) DueJobs(ctx context.Context, now time.Time, limit int) ([]consent.Job, error) {
	if limit < 1 {
		return nil, fmt.Errorf("due jobs: limit %d, want at least 1", limit)
	}
	key := expression.Key("gsi1pk").Equal(expression.Value(dueJobsKey))
	expr, err := expression.NewBuilder().WithKeyCondition(key).Build()
	if err != nil {
		return nil, fmt.Errorf("due jobs: build query: %w", err)
	}
	pages := dynamodb.NewQueryPaginator(s.client, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(gsi1Index),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		Limit:                     aws.Int32(int32(min(limit, duePageSize))),
	})
	var due []consent.Job
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("due jobs: %w", err)
		}
		for _, item := range out.Items {
			j, err := decodeJob(item)
			if err != nil {
				return nil, fmt.Errorf("due jobs: %w", err)
			}
			if j.State == consent.JobPending || j.State == consent.JobSending && j.LeaseUntil.Before(now) {
				due = append(due, j)
				if len(due) == limit {
					return due, nil
				}
			}
		}
	}
	return due, nil
}
