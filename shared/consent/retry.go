package consent

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// retryPolicy says how long a use case keeps retrying a ledger write that
// lost a race for its position, and how it spaces the tries: a random sleep
// up to Base·2ⁿ, at most Max ("full jitter", so racing writers spread out
// instead of colliding again in step). Retrying stops Deadline after the
// first lost race — time spent waiting for a busy store before that does
// not count — or shortly before ctx's deadline (a Lambda function's
// timeout), whichever is sooner, so there is still time to answer.
type retryPolicy struct {
	Deadline  time.Duration
	Base, Max time.Duration
}

// answerMargin is kept back from ctx's deadline to send the answer.
const answerMargin = 250 * time.Millisecond

var (
	// signupRetry: sign-ups back off further and give up sooner.
	signupRetry = retryPolicy{Deadline: 10 * time.Second, Base: 2 * time.Millisecond, Max: 200 * time.Millisecond}
	// withdrawRetry: a withdrawal (unsubscribe, complaint, bounce) must
	// never be lost to a sign-up for the same address written at the same
	// moment, so it retries sooner, more often and for longer.
	withdrawRetry = retryPolicy{Deadline: 30 * time.Second, Base: time.Millisecond, Max: 20 * time.Millisecond}
)

// errRetryDeadline: the retry deadline passed before the write went in.
var errRetryDeadline = errors.New("retry deadline passed")

// wait sleeps before try attempt+1, or returns an error if the deadline or
// ctx would end first.
func (p retryPolicy) wait(ctx context.Context, attempt int, deadline time.Time) error {
	ceiling := p.Max
	if attempt < 30 {
		ceiling = min(p.Base<<attempt, p.Max)
	}
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	wake := time.Now().Add(d)
	if ctxDeadline, ok := ctx.Deadline(); wake.After(deadline) || ok && wake.After(ctxDeadline.Add(-answerMargin)) {
		return errRetryDeadline
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
