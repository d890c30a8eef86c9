package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/unbundled/unbundled/infra/internal/storeflag"
	"github.com/unbundled/unbundled/shared/consent"
)

const jobsUsage = `Usage: unbundled jobs COMMAND [flags]

  list    delivery jobs (emails and webhook notifications): -failed for those that failed
  retry   send failed jobs again, after fixing what made them fail: IDs, or -all-failed

Run "unbundled jobs COMMAND -h" for a command's flags.
`

// jobs runs a delivery-job command.
func jobs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, jobsUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "list":
		return jobsList(ctx, args[1:], stdout, stderr)
	case "retry":
		return jobsRetry(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "unbundled jobs: unknown command %q\n\n%s", args[0], jobsUsage)
		return 2
	}
}

var jobStates = []consent.JobState{consent.JobPending, consent.JobSending, consent.JobSent, consent.JobFailed, consent.JobSkipped}

// jobsList prints delivery jobs, oldest first: one per line (id, state,
// kind, magnet, created, attempts, address, reason), or JSON lines.
func jobsList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("jobs list", operandNone, `Lists delivery jobs — every email and webhook notification queued — oldest first: id, state,
kind, magnet, when queued, attempts, address, and why it failed or was not sent. -failed lists
only those that failed for good (the mail provider rejected the message, or the webhook refused
it); send them again with "unbundled jobs retry". Jobs are kept 30 days. It reads the whole outbox.`, stderr)
	failed := c.fs.Bool("failed", false, "only failed jobs (the same as -state failed)")
	state := c.fs.String("state", "", "only jobs in this state: pending, sending, sent, failed or skipped")
	asJSON := c.fs.Bool("json", false, "print one JSON object per line")
	if ok, code := c.parse(args); !ok {
		return code
	}
	f := consent.JobFilter{State: consent.JobState(*state)}
	switch {
	case *failed && *state != "" && *state != string(consent.JobFailed):
		c.errorf("-failed and -state %s contradict each other", *state)
		return 2
	case *failed:
		f.State = consent.JobFailed
	case f.State != "" && !containsState(f.State):
		c.errorf("-state %q: want pending, sending, sent, failed or skipped", *state)
		return 2
	}
	svc, closeStore, err := c.ledger.open(ctx)
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	defer closeStore()
	var list []consent.Job
	if f.State == consent.JobFailed {
		err = svc.FailedJobs(ctx, func(j consent.Job) error { list = append(list, j); return nil })
	} else {
		err = svc.Jobs.ListJobs(ctx, f, func(j consent.Job) error { list = append(list, j); return nil })
		sortByCreation(list)
	}
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	for _, j := range list {
		if *asJSON {
			err = enc.Encode(j)
		} else {
			_, err = fmt.Fprintln(stdout, jobLine(j))
		}
		if err != nil {
			c.errorf("%v", err)
			return 1
		}
	}
	if !*asJSON {
		fmt.Fprintf(stderr, "%s\n", count(len(list), describeState(f.State)))
	}
	return 0
}

func containsState(s consent.JobState) bool { return slices.Contains(jobStates, s) }

func describeState(s consent.JobState) string {
	if s == "" {
		return "job"
	}
	return string(s) + " job"
}

func sortByCreation(list []consent.Job) {
	slices.SortFunc(list, func(a, b consent.Job) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
}

// jobLine is one job for people, tab-separated.
func jobLine(j consent.Job) string {
	line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s\t%s", j.ID, j.State, j.Kind, orDash(j.Magnet), j.CreatedAt.UTC().Format(time.RFC3339), count(j.Attempts, "attempt"), orDash(j.Email))
	if j.Reason != "" {
		line += "\t" + j.Reason
	}
	return line
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// retryProgressEvery is how many jobs pass between progress lines.
const retryProgressEvery = 100

// jobsRetry moves failed jobs back to pending (consent.Service.RetryJob),
// named by id or every failed job with -all-failed, and says what became
// of each.
func jobsRetry(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("jobs retry", "[ID...]", `Sends failed delivery jobs again — each named by its id (from "unbundled jobs list -failed"),
or every failed job with -all-failed — once you have fixed what made them fail (say, SES refused
the sender identity until it was verified). Each goes back to pending with its attempts counted
afresh and is delivered like a new one: at once by a running local server (within a second), and
on AWS by SweepFunction within 5 minutes. The email is composed from the record as it is then:
someone who withdrew or was suppressed meanwhile gets only what it now allows, or nothing. Nothing
is added to anyone's record, and a job already retried is not sent twice.`, stderr)
	all := c.fs.Bool("all-failed", false, "retry every failed job")
	asJSON := c.fs.Bool("json", false, "print one JSON object per job")
	if ok, code := c.parse(args); !ok {
		return code
	}
	ids := c.fs.Args()
	switch {
	case *all && len(ids) > 0:
		c.errorf("name job ids or give -all-failed, not both")
		c.fs.Usage()
		return 2
	case !*all && len(ids) == 0:
		c.errorf("name the jobs to retry, or give -all-failed")
		c.fs.Usage()
		return 2
	}
	svc, closeStore, err := c.ledger.open(ctx)
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	defer closeStore()
	var results []consent.RetryResult
	if *all {
		fmt.Fprintln(stderr, "finding failed jobs...")
		results, err = svc.RetryFailedJobs(ctx, func(done, total int) {
			if done%retryProgressEvery == 0 && done < total {
				fmt.Fprintf(stderr, "retried %d/%d jobs\n", done, total)
			}
		})
	} else {
		for _, id := range ids {
			j, rerr := svc.RetryJob(ctx, id)
			var verr *consent.ValidationError
			switch {
			case errors.As(rerr, &verr), errors.Is(rerr, consent.ErrNotRetryable), errors.Is(rerr, consent.ErrNotFound):
				results = append(results, consent.RetryResult{ID: id, Error: retryProblem(rerr)})
			case rerr != nil:
				err = rerr
			default:
				results = append(results, consent.RetryResult{ID: id, Job: &j})
			}
			if err != nil {
				break
			}
		}
	}
	code := 0
	retried := 0
	enc := json.NewEncoder(stdout)
	for _, r := range results {
		if r.Error != "" {
			code = 1
			c.errorf("job %s: %s", r.ID, r.Error)
		} else {
			retried++
		}
		if *asJSON {
			if jerr := enc.Encode(r); jerr != nil {
				c.errorf("%v", jerr)
				return 1
			}
		} else if r.Error == "" {
			fmt.Fprintf(stdout, "%s\tretried: pending again (%s to %s)\n", r.ID, r.Job.Kind, orDash(r.Job.Email))
		}
	}
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	when := "a running local server sends them within a second"
	if c.ledger.store == storeflag.DynamoDB {
		when = "SweepFunction sends them within 5 minutes"
	}
	switch {
	case *all && len(results) == 0:
		fmt.Fprintln(stderr, "no failed jobs: nothing to retry")
	case retried > 0:
		fmt.Fprintf(stderr, "%s pending again: %s\n", count(retried, "job"), when)
	}
	return code
}

// retryProblem says why a job could not be retried.
func retryProblem(err error) string {
	var verr *consent.ValidationError
	switch {
	case errors.As(err, &verr):
		return fieldMessages(verr)
	case errors.Is(err, consent.ErrNotFound):
		return "no such job (jobs are kept 30 days)"
	}
	return err.Error()
}
