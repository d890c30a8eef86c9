package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"

	"github.com/unbundled/unbundled/shared/consent"
)

var (
	// errOriginNotAllowed: a browser posted a sign-up from a page the magnet
	// does not list in allowed_origins.
	errOriginNotAllowed = errors.New("sign-up posted from an origin the magnet does not allow")
	// errBadLink: a POST to an emailed link whose body asks for nothing we
	// do (no known button, or a form that cannot be read). It is answered
	// like a bad token.
	errBadLink = errors.New("link request without a known action")
)

// failureMessage is the only thing a client learns about an unexpected error.
const failureMessage = "Something went wrong. Please try again later."

// failure is how a failed request is answered.
type failure struct {
	status int
	page   string // the HTML page
	// fields are the per-field messages: JSON {"errors": fields} and the
	// page's .Fields. Without fields JSON gets {"error": message}.
	fields  map[string]string
	message string
}

// failureFor is the one table from errors to responses; anything it does not
// know is an unexpected 500.
func failureFor(err error) failure {
	var verr *consent.ValidationError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &verr):
		return failure{status: http.StatusBadRequest, page: "signup_errors", fields: verr.Fields}
	case errors.As(err, &tooBig):
		return failure{status: http.StatusRequestEntityTooLarge, page: "too_large",
			fields: map[string]string{"body": "The request is too large."}}
	case errors.Is(err, errOriginNotAllowed):
		return failure{status: http.StatusForbidden, page: "not_allowed",
			fields: map[string]string{"origin": "This page may not post sign-ups for this download."}}
	case errors.Is(err, consent.ErrBadToken), errors.Is(err, consent.ErrUnknownMagnet), errors.Is(err, errBadLink):
		return failure{status: http.StatusBadRequest, page: "bad_link", message: "This link does not work."}
	case errors.Is(err, consent.ErrIdempotencyMismatch):
		return failure{status: http.StatusUnprocessableEntity, page: "key_reused",
			fields: map[string]string{"idempotency_key": "This Idempotency-Key was used for a different request."}}
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
	if wantsJSON(r) {
		if f.fields != nil {
			writeJSON(w, f.status, map[string]any{"errors": f.fields})
		} else {
			writeJSON(w, f.status, map[string]string{"error": f.message})
		}
		return
	}
	data := struct{ Fields map[string]string }{f.fields}
	if err := writePage(w, r, f.status, f.page, data); err != nil {
		s.logFailure(r, err)
		http.Error(w, failureMessage, http.StatusInternalServerError)
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
