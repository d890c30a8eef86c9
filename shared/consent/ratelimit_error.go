package consent

import (
	"fmt"
	"time"
)

// RateLimitError is returned when a source has sent more requests than its
// limit allows in the current window. Nothing was stored or sent; the
// request may be repeated after RetryAfter.
type RateLimitError struct {
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("too many requests: retry after %s", e.RetryAfter.Round(time.Second))
}
