package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"

	"github.com/unbundled/unbundled/shared/consent"
)

// maxAddresses caps one batch of addresses (may-email, object, erase); the
// 16 KiB body limit allows a few hundred anyway.
const maxAddresses = 500

// importPath is the one route whose body is a file.
const importPath = "/admin/import"

// maxImportBodyBytes caps POST /admin/import's body, instead of the 16 KiB
// every other route gets. On AWS the file arrives inside the API Gateway
// event, whose whole JSON must fit Lambda's 6 MB limit on a synchronous
// invocation (API Gateway's own limit, 10 MB, is higher): 5 MiB of text,
// JSON-escaped, leaves room for the rest of the event. Larger files go
// through `unbundled import`, which reads up to consent.MaxImportBytes.
const maxImportBodyBytes = 5 << 20

// bodyLimit is the most r's body may hold (Middleware applies it).
func bodyLimit(r *http.Request) int64 {
	if r.Method == http.MethodPost && r.URL.Path == importPath {
		return maxImportBodyBytes
	}
	return maxBodyBytes
}

// Admin routes (paths under /admin/) answer the operator, not visitors. On
// AWS, API Gateway lets a request through only with IAM credentials
// allowed to invoke the route (template.yaml: Authorizer AWS_IAM), so the
// admin function's AdminAllowed says yes to what reaches it; the local
// server allows only its own machine (LoopbackOnly). Without AdminAllowed
// every admin request is refused: a secure default.
//
// Admin routes take JSON, or for an import the file as text/csv or
// application/json — never a body a browser may send cross-site without a
// preflight (a form, text/plain), and no origin passes the preflight.

// LoopbackOnly allows requests whose connection comes from this machine.
func LoopbackOnly(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// errAdminRefused: the request may not use admin routes.
var errAdminRefused = errors.New("admin route refused")

type operatorKey struct{}

// WithOperator returns a context naming who makes an admin request, as
// recorded with what it writes (an import's events). The Lambda adapter
// sets the IAM caller API Gateway authorised
// (requestContext.authorizer.iam.userArn); no header or other part of
// the request a client sends can set it.
func WithOperator(ctx context.Context, operator string) context.Context {
	return context.WithValue(ctx, operatorKey{}, operator)
}

// Operator returns the operator WithOperator put in ctx, or "".
func Operator(ctx context.Context) string {
	op, _ := ctx.Value(operatorKey{}).(string)
	return op
}

// operator names who makes the admin request r: the operator in its
// context (on AWS, the IAM caller), else — on the local server, which
// admits only its own machine — "local:" and the connection's address.
func operator(r *http.Request) string {
	if op := Operator(r.Context()); op != "" {
		return op
	}
	return "local:" + r.RemoteAddr
}

// admit checks that r may use an admin route: AdminAllowed, and no
// browser page of another origin behind it.
func (s *Server) admit(r *http.Request) error {
	if s.AdminAllowed == nil || !s.AdminAllowed(r) {
		return errAdminRefused
	}
	return s.ownSource(r, "", "")
}

// adminFail answers a failed admin request from the one failure table,
// always as JSON: admin routes answer tools, whatever body they were sent.
func (s *Server) adminFail(w http.ResponseWriter, r *http.Request, err error) {
	r = r.Clone(r.Context())
	r.Header.Set("Content-Type", "application/json")
	s.fail(w, r, err)
}

// readAdminJSON decodes an admin request's JSON body into v: exactly one
// object with only known member names. example shows what to send.
func readAdminJSON(r *http.Request, v any, example string) error {
	if !wantsJSON(r) {
		return invalid("body", "Send JSON: "+example+".")
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v, json.RejectUnknownMembers(true)); err != nil {
		return invalid("body", "Send one JSON object: "+example+".")
	}
	return nil
}

// checkAddresses bounds a batch of addresses.
func checkAddresses(addresses []string) error {
	switch {
	case len(addresses) == 0:
		return invalid("addresses", "Name at least one address.")
	case len(addresses) > maxAddresses:
		return invalid("addresses", "At most 500 addresses per request.")
	}
	return nil
}

type mayEmailRequest struct {
	Purpose   string   `json:"purpose"`
	Addresses []string `json:"addresses"`
}

type mayEmailAnswer struct {
	Address string `json:"address"`
	*consent.Decision
	Error string `json:"error,omitempty"`
}

// mayEmail answers POST /admin/may-email: for each address in
// {"addresses": [...], "purpose": "..."} (purpose optional: the
// configuration's one controller-wide purpose), whether marketing email may
// be sent, on what basis and why — the same answers as `unbundled
// may-email`, from the same function. An address that is not valid gets an
// "error" instead of a decision; the batch still answers 200.
func (s *Server) mayEmail(w http.ResponseWriter, r *http.Request) {
	if err := s.admit(r); err != nil {
		s.adminFail(w, r, err)
		return
	}
	var in mayEmailRequest
	if err := readAdminJSON(r, &in, `{"addresses": ["ann@example.com"], "purpose": "marketing:…"}`); err != nil {
		s.adminFail(w, r, err)
		return
	}
	if err := checkAddresses(in.Addresses); err != nil {
		s.adminFail(w, r, err)
		return
	}
	answers := make([]mayEmailAnswer, 0, len(in.Addresses))
	for _, address := range in.Addresses {
		d, err := s.Service.MayEmail(r.Context(), address, in.Purpose)
		var verr *consent.ValidationError
		switch {
		case errors.As(err, &verr) && verr.Fields["purpose"] != "":
			s.adminFail(w, r, err)
			return
		case errors.As(err, &verr):
			answers = append(answers, mayEmailAnswer{Address: address, Error: verr.Fields["email"]})
		case err != nil:
			s.adminFail(w, r, err)
			return
		default:
			answers = append(answers, mayEmailAnswer{Address: address, Decision: &d})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"decisions": answers})
}

// importParams are the query parameters of POST /admin/import.
var importParams = []string{"file", "source", "origin", "dry_run"}

// importMediaTypes pairs each accepted Content-Type with the file
// extension it must come with.
var importMediaTypes = map[string]string{"text/csv": ".csv", "application/json": ".json"}

// importFile answers POST /admin/import?file=NAME&source=…&origin=…
// (&dry_run=true), with the file as the body: text/csv for NAME.csv,
// application/json for NAME.json. It runs consent.Service.Import, as
// `unbundled import` does, recording the operator (on AWS the IAM caller)
// on every imported event, and answers 200 with the report — rows
// imported, unchanged and skipped with reasons. A file with any problem
// is refused whole: 422 {"error": "import refused, nothing written",
// "problems": [{"row", "field", "message"}, …]}. Sending the same file
// again changes nothing, and completes an import a timeout cut short.
func (s *Server) importFile(w http.ResponseWriter, r *http.Request) {
	if err := s.admit(r); err != nil {
		s.adminFail(w, r, err)
		return
	}
	q, err := singleQuery(r.URL.Query(), importParams...)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	name := q.Get("file")
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	ext, accepted := importMediaTypes[mediaType]
	switch {
	case name == "":
		err = invalid("file", "Name the file: ?file=contacts.csv (or .json).")
	case len(name) > consent.MaxEvidenceLength || strings.ContainsFunc(name, func(c rune) bool { return c < 0x20 || c == 0x7f }):
		err = invalid("file", "The file name must be one line of at most 200 bytes.")
	case !accepted:
		err = invalid("body", "Send the file as the body, with Content-Type text/csv or application/json.")
	case !strings.EqualFold(filepath.Ext(name), ext):
		err = invalid("file", "A "+mediaType+" body needs a file name ending in "+ext+".")
	}
	dryRun := false
	if v := q.Get("dry_run"); err == nil && v != "" {
		if dryRun, err = strconv.ParseBool(v); err != nil {
			err = invalid("dry_run", "Send dry_run=true or dry_run=false.")
		}
	}
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	f, err := consent.ParseImport(name, data, q.Get("source"), q.Get("origin"))
	var rep consent.ImportReport
	if err == nil {
		rep, err = s.Service.Import(r.Context(), f, consent.ImportOptions{Operator: operator(r), DryRun: dryRun})
	}
	var refused *consent.ImportError
	switch {
	case errors.As(err, &refused):
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "import refused, nothing written", "problems": refused.Problems})
		return
	case err != nil:
		s.adminFail(w, r, err)
		return
	}
	if rep.Skipped == nil {
		rep.Skipped = []consent.ImportSkip{}
	}
	s.logger().LogAttrs(r.Context(), slog.LevelInfo, "admin import",
		slog.String("operator", rep.Operator), slog.String("file_digest", rep.Digest), slog.Bool("dry_run", rep.DryRun),
		slog.Int("rows", rep.Rows), slog.Int("imported", rep.Imported), slog.Int("unchanged", rep.Unchanged),
		slog.Int("skipped", len(rep.Skipped)), slog.String("request_id", RequestID(r.Context())))
	writeJSON(w, http.StatusOK, rep)
}

type addressesRequest struct {
	Addresses []string `json:"addresses"`
}

type objectAnswer struct {
	Address  string `json:"address"`
	Recorded *bool  `json:"recorded,omitempty"`
	Error    string `json:"error,omitempty"`
}

// object answers POST /admin/object {"addresses": [...]}: it records each
// person's objection to direct marketing, as `unbundled object` does (method
// operator), and says per address whether it was recorded now (false:
// already objected) or why the address is not valid.
func (s *Server) object(w http.ResponseWriter, r *http.Request) {
	if err := s.admit(r); err != nil {
		s.adminFail(w, r, err)
		return
	}
	var in addressesRequest
	if err := readAdminJSON(r, &in, `{"addresses": ["ann@example.com"]}`); err != nil {
		s.adminFail(w, r, err)
		return
	}
	if err := checkAddresses(in.Addresses); err != nil {
		s.adminFail(w, r, err)
		return
	}
	// The request id ties the event to this request's log line; the
	// operator's address and user agent are not the person's evidence.
	ev := consent.Evidence{RequestID: RequestID(r.Context())}
	results := make([]objectAnswer, 0, len(in.Addresses))
	recorded := 0
	for _, address := range in.Addresses {
		written, err := s.Service.RecordObjection(r.Context(), address, consent.MethodOperator, ev)
		var verr *consent.ValidationError
		switch {
		case errors.As(err, &verr):
			results = append(results, objectAnswer{Address: address, Error: verr.Fields["email"]})
		case err != nil:
			s.adminFail(w, r, err)
			return
		default:
			if written {
				recorded++
			}
			results = append(results, objectAnswer{Address: address, Recorded: &written})
		}
	}
	s.logger().LogAttrs(r.Context(), slog.LevelInfo, "admin object", slog.String("operator", operator(r)),
		slog.Int("addresses", len(in.Addresses)), slog.Int("recorded", recorded), slog.String("request_id", RequestID(r.Context())))
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

type eraseRequest struct {
	Addresses []string `json:"addresses"`
	Reason    string   `json:"reason"`
}

type eraseAnswer struct {
	Address string `json:"address"`
	*consent.Erasure
	Error string `json:"error,omitempty"`
}

// erase answers POST /admin/erase {"addresses": [...], "reason": "..."}: it
// erases everything held on each person, keeping a tombstone, as `unbundled
// erase` does, and answers per address what was removed (the
// consent.Erasure) or why the address is not valid. A missing or bad
// reason refuses the whole request before anything is erased.
func (s *Server) erase(w http.ResponseWriter, r *http.Request) {
	if err := s.admit(r); err != nil {
		s.adminFail(w, r, err)
		return
	}
	var in eraseRequest
	if err := readAdminJSON(r, &in, `{"addresses": ["ann@example.com"], "reason": "erasure request by email, 2 December 2026"}`); err != nil {
		s.adminFail(w, r, err)
		return
	}
	if err := checkAddresses(in.Addresses); err != nil {
		s.adminFail(w, r, err)
		return
	}
	results := make([]eraseAnswer, 0, len(in.Addresses))
	erased := 0
	for _, address := range in.Addresses {
		e, err := s.Service.Erase(r.Context(), address, in.Reason)
		var verr *consent.ValidationError
		switch {
		case errors.As(err, &verr) && verr.Fields["reason"] != "":
			// Checked before anything is written, so the first address
			// refuses the batch untouched.
			s.adminFail(w, r, invalid("reason", verr.Fields["reason"]))
			return
		case errors.As(err, &verr):
			results = append(results, eraseAnswer{Address: address, Error: verr.Fields["email"]})
		case err != nil:
			s.adminFail(w, r, err)
			return
		default:
			erased++
			results = append(results, eraseAnswer{Address: address, Erasure: &e})
		}
	}
	s.logger().LogAttrs(r.Context(), slog.LevelInfo, "admin erase", slog.String("operator", operator(r)),
		slog.Int("addresses", len(in.Addresses)), slog.Int("erased", erased), slog.String("request_id", RequestID(r.Context())))
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// suppressionList answers GET /admin/suppression: everyone who left, for
// the business's other sending tools (consent.Service.SuppressionList) —
// as a CSV download (email, status, purpose, since, method), or with
// ?format=json as {"suppressions": [...]}.
func (s *Server) suppressionList(w http.ResponseWriter, r *http.Request) {
	if err := s.admit(r); err != nil {
		s.adminFail(w, r, err)
		return
	}
	q, err := singleQuery(r.URL.Query(), "format")
	if err == nil && q.Get("format") != "" && q.Get("format") != "csv" && q.Get("format") != "json" {
		err = invalid("format", "Send format=csv (the default) or format=json.")
	}
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	list, err := s.Service.SuppressionList(r.Context())
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	if q.Get("format") == "json" {
		if list == nil {
			list = []consent.Suppression{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"suppressions": list})
		return
	}
	var buf bytes.Buffer
	if err := consent.WriteSuppressionCSV(&buf, list); err != nil {
		s.adminFail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="suppression.csv"`)
	_, _ = w.Write(buf.Bytes())
}

// singleQuery checks that q holds only the named parameters, each at most
// once, and returns it.
func singleQuery(q url.Values, names ...string) (url.Values, error) {
	for name, values := range q {
		switch {
		case !slices.Contains(names, name):
			return nil, invalid(fieldName(name), "Unknown parameter; send only "+strings.Join(names, ", ")+".")
		case len(values) > 1:
			return nil, invalid(fieldName(name), "This parameter appears more than once; send it once.")
		}
	}
	return q, nil
}
