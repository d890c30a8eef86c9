package dynamostore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/unbundled/unbundled/shared/consent"
)

// ListJobs implements consent.JobLister with a strongly consistent,
// paginated Scan of the table filtered to job items (type "job") matching
// f, calling fn for each job of a page before reading the next. It reads,
// and pays for, the whole table: it is for the operator (a person's
// deliveries, failed jobs to retry), never a request's path. (The due-jobs
// index holds only pending and sending jobs, and no index is keyed by
// subscriber.)
func (s *Store) ListJobs(ctx context.Context, f consent.JobFilter, fn func(consent.Job) error) error {
	filter := expression.Name("type").Equal(expression.Value(itemTypeJob))
	if f.State != "" {
		filter = filter.And(expression.Name("state").Equal(expression.Value(string(f.State))))
	}
	if f.Subscriber != "" {
		filter = filter.And(expression.Name("subscriber").Equal(expression.Value(f.Subscriber)))
	}
	expr, err := expression.NewBuilder().WithFilter(filter).Build()
	if err != nil {
		return fmt.Errorf("list jobs: build scan: %w", err)
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
			return fmt.Errorf("list jobs: %w", err)
		}
		for _, item := range out.Items {
			j, err := decodeJob(item)
			if err != nil {
				return fmt.Errorf("list jobs: %w", err)
			}
			if err := fn(j); err != nil {
				return err
			}
		}
	}
	return nil
}
