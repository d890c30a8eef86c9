package rie_test

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/unbundled/unbundled/infra/testkit/rie"
)

// jobFilter is the kind of pattern template.yaml gives a stream consumer.
const jobFilter = `{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"type": {"S": ["job"]}}}}`

func record(t *testing.T, js string) events.DynamoDBEventRecord {
	t.Helper()
	var r events.DynamoDBEventRecord
	if err := json.Unmarshal([]byte(js), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestMatchFilter(t *testing.T) {
	insertJob := `{"eventName":"INSERT","dynamodb":{"NewImage":{"type":{"S":"job"},"id":{"S":"j1"}}}}`
	tests := []struct {
		name, pattern, record string
		want                  bool
		wantErr               bool
	}{
		{"job insert", jobFilter, insertJob, true, false},
		{"job modify", jobFilter, `{"eventName":"MODIFY","dynamodb":{"NewImage":{"type":{"S":"job"}}}}`, false, false},
		{"event insert", jobFilter, `{"eventName":"INSERT","dynamodb":{"NewImage":{"type":{"S":"event"}}}}`, false, false},
		{"TTL remove (no new image)", jobFilter, `{"eventName":"REMOVE","dynamodb":{"OldImage":{"type":{"S":"job"}}}}`, false, false},
		{"one of several values", `{"eventName":["MODIFY","INSERT"]}`, insertJob, true, false},
		{"prefix rule unsupported", `{"eventName":[{"prefix":"INS"}]}`, insertJob, false, true},
		{"scalar pattern invalid", `{"eventName":"INSERT"}`, insertJob, false, true},
		{"not JSON", `{`, insertJob, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rie.MatchFilter(tc.pattern, record(t, tc.record))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("MatchFilter: got %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
