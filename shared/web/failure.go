package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

var (
	// errOriginNotAllowed: a browser posted from a page that may not post
	// here (see origin.go). An *originRefusal wrapping it says where the
	// visitor can go instead.
	errOriginNotAllowed = errors.New("posted from a page that may not post here")
	// errBadLink: a POST to an emailed link whose body asks for nothing we
	// do (no known button, or a form that cannot be read). It is answered
	// like a bad token.
	errBadLink = errors.New("link request without a known action")
	// errNotFound: no route has this path (404 page).
	errNotFound = errors.New("no such page")
	// errUnknownDownload: a page or form names a magnet that is not
	// configured (404 page).
	errUnknownDownload = errors.New("no such download")
)

// failureMessage is the only thing a client learns about an unexpected error.
const failureMessage = "Something went wrong. Please try again later."

// busyMessage answers a request that lost too many races for the same
// record: nothing was saved, and sending it again is safe.
const busyMessage = "We are busy right now and nothing was saved. Please send it again in a moment."

// failure is how a failed request is answered.
type failure struct {
	status int
	page   string // the HTML page
	// fields are the per-field messages: JSON {"errors": fields} and the
	// page's .Fields. Without fields JSON gets {"error": message}.
	fields  map[string]string
	message string
	// back and backText: a link the page offers instead, if any.
	back, backText string
	// retryAfter is the Retry-After header in seconds; retryIn says the same
	// for people ("in about 5 minutes").
	retryAfter, retryIn string
	// signup and origin: a refused cross-origin sign-up, and the origin it
	// came from if it can be shown (see originRefusal).
	signup bool
	origin string
	// download: the not_found page is for an unknown download, not a path.
	download bool
}

// failurePage is what an error page is rendered with.
type failurePage struct {
	Fields map[string]string
	// Problems are Fields for people, in form order, each with the label
	// of its field ("Email address"), not its key.
	Problems                []fieldProblem
	Back, BackText, RetryIn string
	// Signup and Origin: see failure.
	Signup bool
	Origin string
	// Download: see failure. Posted: the request was a POST, so the page
	// can say nothing was saved.
	Download, Posted bool
	// WithdrawURL is the self-service unsubscribe page, offered on pages
	// for links that no longer work.
	WithdrawURL string
}

// failureFor is the one table from errors to responses; anything it does not
// know is an unexpected 500.
func failureFor(err error) failure {
	var verr *consent.ValidationError
	var tooBig *http.MaxBytesError
	var limited *consent.RateLimitError
	var refusal *originRefusal
	switch {
	case errors.As(err, &verr):
		return failure{status: http.StatusBadRequest, page: "signup_errors", fields: verr.Fields}
	case errors.As(err, &tooBig):
		return failure{status: http.StatusRequestEntityTooLarge, page: "too_large",
			fields: map[string]string{"body": "The request is too large."}}
	case errors.Is(err, errAdminRefused):
		return failure{status: http.StatusForbidden, page: "failure", message: "Admin routes need the operator's credentials."}
	case errors.Is(err, errOriginNotAllowed):
		f := failure{status: http.StatusForbidden, page: "not_allowed",
			fields: map[string]string{"origin": "This page may not post sign-ups for this download."}}
		if errors.As(err, &refusal) {
			f.back, f.backText, f.signup, f.origin = refusal.back, refusal.backText, refusal.signup, refusal.origin
		}
		return f
	case errors.Is(err, errNotFound):
		return failure{status: http.StatusNotFound, page: "not_found", message: "There is nothing at this address."}
	case errors.Is(err, errUnknownDownload):
		return failure{status: http.StatusNotFound, page: "not_found", download: true,
			fields: map[string]string{"magnet": "This download does not exist."}}
	case errors.As(err, &limited):
		in := retryIn(limited.RetryAfter)
		return failure{status: http.StatusTooManyRequests, page: "too_many",
			message:    "Too many requests. Please try again " + in + ".",
			retryAfter: strconv.FormatInt(retrySeconds(limited.RetryAfter), 10), retryIn: in}
	case errors.Is(err, consent.ErrBadToken), errors.Is(err, consent.ErrUnknownMagnet), errors.Is(err, errBadLink):
		return failure{status: http.StatusBadRequest, page: "bad_link", message: "This link does not work."}
	case errors.Is(err, consent.ErrIdempotencyMismatch):
		return failure{status: http.StatusUnprocessableEntity, page: "key_reused",
			fields: map[string]string{"idempotency_key": "This Idempotency-Key was used for a different request."}}
	case errors.Is(err, consent.ErrConflict):
		// Still contended after the use case's retry deadline: nothing was
		// written; the same request may simply be sent again.
		return failure{status: http.StatusServiceUnavailable, page: "busy", message: busyMessage,
			retryAfter: "1", retryIn: "in a moment"}
	default:
		return failure{status: http.StatusInternalServerError, page: "failure", message: failureMessage}
	}
}

// fail answers a request that failed with err, with the status and wording
// failureFor gives it: JSON if the request body is JSON, else an HTML page
// (headers only for HEAD). Unexpected errors (5xx) are logged here, once;
// client errors are not logged. If even the error page cannot be rendered the
// answer is a plain-text 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	f := failureFor(err)
	if f.status >= http.StatusInternalServerError {
		s.logFailure(r, err)
	}
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	if wantsJSON(r) {
		if f.fields != nil {
			writeJSON(w, f.status, map[string]any{"errors": f.fields})
		} else {
			writeJSON(w, f.status, map[string]string{"error": f.message})
		}
		return
	}
	data := failurePage{
		Fields: f.fields, Problems: problems(f.fields), Back: f.back, BackText: f.backText, RetryIn: f.retryIn,
		Signup: f.signup, Origin: f.origin, Download: f.download, Posted: r.Method == http.MethodPost,
		WithdrawURL: s.withdrawURL(r),
	}
	if err := writePage(w, r, f.status, f.page, data); err != nil {
		s.logFailure(r, err)
		http.Error(w, failureMessage, http.StatusInternalServerError)
	}
}

// withdrawURL is the self-service unsubscribe page, /withdraw: where a
// person whose link no longer works can get a fresh one.
func (s *Server) withdrawURL(r *http.Request) string {
	if s.Service == nil {
		return "/withdraw"
	}
	return s.link(r, "/withdraw")
}

// retrySeconds is d in whole seconds, rounded up, at least 1: the
// Retry-After value.
func retrySeconds(d time.Duration) int64 {
	secs := int64((d + time.Second - 1) / time.Second)
	return max(secs, 1)
}

// retryIn says when to try again after d, for people: "in about a minute",
// "in about 5 minutes", "in about an hour", "in about 3 days". It rounds up,
// so trying at the time it says works.
func retryIn(d time.Duration) string {
	about := func(n int64, one, unit string) string {
		if n <= 1 {
			return "in about " + one
		}
		return fmt.Sprintf("in about %d %ss", n, unit)
	}
	ceil := func(unit time.Duration) int64 { return int64((d + unit - 1) / unit) }
	switch {
	case d <= time.Hour-time.Minute:
		return about(ceil(time.Minute), "a minute", "minute")
	case d <= 23*time.Hour:
		return about(ceil(time.Hour), "an hour", "hour")
	default:
		return about(ceil(24*time.Hour), "a day", "day")
	}
}

// wantsJSON reports whether the request was sent as JSON, and so gets its
// answer, errors included, as JSON.
func wantsJSON(r *http.Request) bool {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mediaType == "application/json"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// logFailure logs an unexpected error. Error texts come from our own wrapping
// and the SDKs and hold no personal data.
func (s *Server) logFailure(r *http.Request, err error) {
	s.logger().LogAttrs(r.Context(), slog.LevelError, "request failed",
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("error", err.Error()), slog.String("request_id", RequestID(r.Context())))
}
