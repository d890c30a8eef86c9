package rie

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/aws/aws-lambda-go/events"
)

// MatchFilter reports whether an event source mapping filter pattern
// (FilterCriteria.Filters[].Pattern) accepts record, as Lambda decides
// which stream records reach a function. It supports the pattern form of
// nested objects ending in arrays of exact values (strings, numbers,
// booleans, null), and fails on anything else (prefix, anything-but,
// exists, numeric), so a richer pattern is noticed, not mis-emulated.
func MatchFilter(pattern string, record events.DynamoDBEventRecord) (bool, error) {
	var p map[string]any
	if err := json.Unmarshal([]byte(pattern), &p); err != nil {
		return false, fmt.Errorf("filter pattern %s: %w", pattern, err)
	}
	b, err := json.Marshal(record)
	if err != nil {
		return false, err
	}
	var r map[string]any
	if err := json.Unmarshal(b, &r); err != nil {
		return false, err
	}
	return match(p, r)
}

func match(pattern, value map[string]any) (bool, error) {
	for key, want := range pattern {
		got, present := value[key]
		switch w := want.(type) {
		case map[string]any:
			sub, ok := got.(map[string]any)
			if !present || !ok {
				return false, nil
			}
			if ok, err := match(w, sub); err != nil || !ok {
				return false, err
			}
		case []any:
			found := false
			for _, alt := range w {
				if _, isRule := alt.(map[string]any); isRule {
					return false, fmt.Errorf("filter rule %v under %q is not supported by infra/testkit/rie", alt, key)
				}
				if present && reflect.DeepEqual(alt, got) {
					found = true
				}
			}
			if !found {
				return false, nil
			}
		default:
			return false, fmt.Errorf("filter pattern value under %q must be an object or an array, got %v", key, want)
		}
	}
	return true, nil
}
