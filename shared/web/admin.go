package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

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
// context (on AWS, the IAM caller), else "local" — the local server admits
// only its own machine. (Not the connection's address: operators are
// logged, and logs hold no IP addresses.)
func operator(r *http.Request) string {
	if op := Operator(r.Context()); op != "" {
		return op
	}
	return "local"
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
// readAdmin admits r as an admin request and reads its JSON body into v
// (readAdminJSON), answering the failure itself; it reports whether the
// handler may go on.
func (s *Server) readAdmin(w http.ResponseWriter, r *http.Request, v any, example string) bool {
	err := s.admit(r)
	if err == nil {
		err = readAdminJSON(r, v, example)
	}
	if err != nil {
		s.adminFail(w, r, err)
		return false
	}
	return true
}

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
	var in mayEmailRequest
	if !s.readAdmin(w, r, &in, `{"addresses": ["ann@example.com"], "purpose": "marketing:…"}`) {
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
	var in addressesRequest
	if !s.readAdmin(w, r, &in, `{"addresses": ["ann@example.com"]}`) {
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
	var in eraseRequest
	if !s.readAdmin(w, r, &in, `{"addresses": ["ann@example.com"], "reason": "erasure request by email, 2 December 2026"}`) {
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

type addressRequest struct {
	Address string `json:"address"`
}

// readAddress reads {"address": "..."}: the address goes in the body,
// never the URL, which reaches access logs.
func readAddress(r *http.Request) (string, error) {
	var in addressRequest
	if err := readAdminJSON(r, &in, `{"address": "ann@example.com"}`); err != nil {
		return "", err
	}
	if strings.TrimSpace(in.Address) == "" {
		return "", invalid("address", "Name the address.")
	}
	return in.Address, nil
}

// proof answers POST /admin/proof {"address": "..."}: the proof-of-consent
// report on the person (consent.Service.Proof), as `unbundled proof` gives
// it — JSON, or with ?format=html the self-contained printable page, or
// with ?format=text plain text.
func (s *Server) proof(w http.ResponseWriter, r *http.Request) {
	if err := s.admit(r); err != nil {
		s.adminFail(w, r, err)
		return
	}
	q, err := singleQuery(r.URL.Query(), "format")
	format := q.Get("format")
	if err == nil && format != "" && format != "json" && format != "html" && format != "text" {
		err = invalid("format", "Send format=json (the default), format=html or format=text.")
	}
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	address, err := readAddress(r)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	p, err := s.Service.Proof(r.Context(), address)
	if err != nil {
		s.adminFail(w, r, emailAs(err, "address"))
		return
	}
	s.logger().LogAttrs(r.Context(), slog.LevelInfo, "admin proof", slog.String("operator", operator(r)),
		slog.Int("events", len(p.Events)), slog.String("request_id", RequestID(r.Context())))
	var buf bytes.Buffer
	switch format {
	case "html":
		err = p.WriteHTML(&buf)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	case "text":
		err = p.WriteText(&buf)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	default:
		writeJSON(w, http.StatusOK, p)
		return
	}
	if err != nil {
		w.Header().Del("Content-Type")
		s.adminFail(w, r, err)
		return
	}
	_, _ = w.Write(buf.Bytes())
}

// emailAs renames the "email" field of a *consent.ValidationError to
// field, the name the request used for it.
func emailAs(err error, field string) error {
	var verr *consent.ValidationError
	if !errors.As(err, &verr) || verr.Fields["email"] == "" {
		return err
	}
	fields := map[string]string{}
	for k, v := range verr.Fields {
		if k == "email" {
			k = field
		}
		fields[k] = v
	}
	return &consent.ValidationError{Fields: fields}
}

// export answers POST /admin/export {"address": "..."}: everything held on
// the person (consent.Service.Export, the right of access), as `unbundled
// export` gives it.
func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	if err := s.admit(r); err != nil {
		s.adminFail(w, r, err)
		return
	}
	address, err := readAddress(r)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	x, err := s.Service.Export(r.Context(), address)
	if err != nil {
		s.adminFail(w, r, emailAs(err, "address"))
		return
	}
	s.logger().LogAttrs(r.Context(), slog.LevelInfo, "admin export", slog.String("operator", operator(r)),
		slog.Int("events", len(x.Events)), slog.String("request_id", RequestID(r.Context())))
	writeJSON(w, http.StatusOK, x)
}

type rectifyRequest struct {
	Address string  `json:"address"`
	Name    *string `json:"name"`
}

// rectify answers POST /admin/rectify {"address": "...", "name": "..."}:
// it corrects the name held on the person (consent.Service.Rectify; "" removes
// it), recording a `rectified` event with this request's id, and answers
// {"address", "name", "rectified"} (false: the name held was already
// that). An address nobody is on record with is 400.
func (s *Server) rectify(w http.ResponseWriter, r *http.Request) {
	var in rectifyRequest
	if !s.readAdmin(w, r, &in, `{"address": "ann@example.com", "name": "Ann Lee"}`) {
		return
	}
	if in.Name == nil {
		s.adminFail(w, r, invalid("name", `Send the correct name ("" removes it).`))
		return
	}
	name := strings.TrimSpace(*in.Name)
	written, err := s.Service.Rectify(r.Context(), in.Address, name, consent.Evidence{RequestID: RequestID(r.Context())})
	if err != nil {
		s.adminFail(w, r, emailAs(err, "address"))
		return
	}
	s.logger().LogAttrs(r.Context(), slog.LevelInfo, "admin rectify", slog.String("operator", operator(r)),
		slog.Bool("rectified", written), slog.String("request_id", RequestID(r.Context())))
	writeJSON(w, http.StatusOK, map[string]any{"address": in.Address, "name": name, "rectified": written})
}

// auditParams are the query parameters of GET /admin/audit.
var auditParams = []string{"magnet", "from", "to", "format"}

// audit answers GET /admin/audit?magnet=…&from=…&to=… (each optional; from
// and to a date, 2026-11-01, or an RFC 3339 time; to excluded): the
// consent events of the period (consent.Service.Audit) as the CSV
// `unbundled audit` writes, or with format=json as {"events": [...]}.
// The query names no person, so it may sit in a URL.
func (s *Server) audit(w http.ResponseWriter, r *http.Request) {
	if err := s.admit(r); err != nil {
		s.adminFail(w, r, err)
		return
	}
	q, err := singleQuery(r.URL.Query(), auditParams...)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	aq := consent.AuditQuery{Magnet: q.Get("magnet")}
	if aq.From, err = parseWhen("from", q.Get("from")); err == nil {
		aq.To, err = parseWhen("to", q.Get("to"))
	}
	if err == nil && q.Get("format") != "" && q.Get("format") != "csv" && q.Get("format") != "json" {
		err = invalid("format", "Send format=csv (the default) or format=json.")
	}
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	var buf bytes.Buffer
	events := []consent.Event{}
	write := func(e consent.Event) error { events = append(events, e); return nil }
	var csvw *consent.AuditCSV
	if q.Get("format") != "json" {
		if csvw, err = consent.NewAuditCSV(&buf); err != nil {
			s.adminFail(w, r, err)
			return
		}
		write = csvw.Write
	}
	n := 0
	err = s.Service.Audit(r.Context(), aq, func(e consent.Event) error { n++; return write(e) })
	if err == nil && csvw != nil {
		err = csvw.Flush()
	}
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	s.logger().LogAttrs(r.Context(), slog.LevelInfo, "admin audit", slog.String("operator", operator(r)),
		slog.Int("events", n), slog.String("request_id", RequestID(r.Context())))
	if csvw == nil {
		writeJSON(w, http.StatusOK, map[string]any{"events": events})
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="consent-audit.csv"`)
	_, _ = w.Write(buf.Bytes())
}

// parseWhen reads a from or to parameter: empty (open), a date (midnight
// UTC) or an RFC 3339 time.
func parseWhen(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, invalid(field, "Send a date (2026-11-01) or an RFC 3339 time (2026-11-01T09:00:00Z).")
	}
	return t.UTC(), nil
}

type suppressionRequest struct {
	Action    string   `json:"action"`
	Addresses []string `json:"addresses"`
	Reason    string   `json:"reason"`
	Force     bool     `json:"force"`
}

type suppressionAnswer struct {
	Address string `json:"address"`
	// Changed is, for add and remove, whether the suppression changed.
	Changed *bool `json:"changed,omitempty"`
	// Status is, for check, where the address stands and why.
	*consent.SuppressionStatus
	Error string `json:"error,omitempty"`
}

// suppressionChange answers POST /admin/suppression {"action": "add",
// "remove" or "check", "addresses": [...], "reason": "...", "force": false}:
// add suppresses each address (consent.Service.Suppress), remove lifts a
// suppression (Unsuppress; after a spam complaint only with "force":
// true), check says where each stands and why (SuppressionCheck) — as
// `unbundled suppression add|remove|check` do. add and remove need a
// reason, recorded with each event with this request's id; a missing or
// bad reason refuses the whole request before anything is written.
// Per address the answer says what changed, or why not ("error").
func (s *Server) suppressionChange(w http.ResponseWriter, r *http.Request) {
	var in suppressionRequest
	if !s.readAdmin(w, r, &in, `{"action": "add", "addresses": ["ann@example.com"], "reason": "asked by phone for no email at all"}`) {
		return
	}
	var err error
	switch {
	case in.Action != "add" && in.Action != "remove" && in.Action != "check":
		err = invalid("action", `Send "add", "remove" or "check".`)
	case in.Action == "check" && (in.Reason != "" || in.Force):
		err = invalid("action", "A check takes only addresses.")
	case in.Action == "add" && in.Force:
		err = invalid("force", "Only a removal can be forced.")
	case in.Action != "check" && strings.TrimSpace(in.Reason) == "":
		err = invalid("reason", `Say why, e.g. "asked by phone for no email at all, 2 December 2026".`)
	default:
		err = checkAddresses(in.Addresses)
	}
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	ev := consent.Evidence{RequestID: RequestID(r.Context())}
	results := make([]suppressionAnswer, 0, len(in.Addresses))
	changed := 0
	for _, address := range in.Addresses {
		a := suppressionAnswer{Address: address}
		var written bool
		var err error
		switch in.Action {
		case "add":
			written, err = s.Service.Suppress(r.Context(), address, in.Reason, ev)
		case "remove":
			written, err = s.Service.Unsuppress(r.Context(), address, in.Reason, in.Force, ev)
		default:
			var st consent.SuppressionStatus
			if st, err = s.Service.SuppressionCheck(r.Context(), address); err == nil {
				a.SuppressionStatus = &st
			}
		}
		var verr *consent.ValidationError
		switch {
		case errors.As(err, &verr) && verr.Fields["reason"] != "":
			s.adminFail(w, r, invalid("reason", verr.Fields["reason"]))
			return
		case errors.As(err, &verr):
			a.Error = fieldMessages(verr)
		case err != nil:
			s.adminFail(w, r, err)
			return
		case in.Action != "check":
			a.Changed = &written
			if written {
				changed++
			}
		}
		results = append(results, a)
	}
	s.logger().LogAttrs(r.Context(), slog.LevelInfo, "admin suppression", slog.String("operator", operator(r)), slog.String("action", in.Action),
		slog.Int("addresses", len(in.Addresses)), slog.Int("changed", changed), slog.String("request_id", RequestID(r.Context())))
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// fieldMessages joins a validation error's messages, in field order.
func fieldMessages(verr *consent.ValidationError) string {
	names := make([]string, 0, len(verr.Fields))
	for name := range verr.Fields {
		names = append(names, name)
	}
	slices.Sort(names)
	msgs := make([]string, len(names))
	for i, name := range names {
		msgs[i] = verr.Fields[name]
	}
	return strings.Join(msgs, " ")
}

// jobStates are the states GET /admin/jobs may filter on.
var jobStates = []consent.JobState{consent.JobPending, consent.JobSending, consent.JobSent, consent.JobFailed, consent.JobSkipped}

// jobs answers GET /admin/jobs?state=failed (state optional: every job):
// the delivery jobs, oldest first, as {"jobs": [...]} — as `unbundled jobs
// list` gives them. It reads the whole outbox.
func (s *Server) jobs(w http.ResponseWriter, r *http.Request) {
	if err := s.admit(r); err != nil {
		s.adminFail(w, r, err)
		return
	}
	q, err := singleQuery(r.URL.Query(), "state")
	state := consent.JobState(q.Get("state"))
	if err == nil && state != "" && !slices.Contains(jobStates, state) {
		err = invalid("state", "Send state=pending, sending, sent, failed or skipped.")
	}
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	jobs := []consent.Job{}
	collect := func(j consent.Job) error { jobs = append(jobs, j); return nil }
	if state == consent.JobFailed {
		err = s.Service.FailedJobs(r.Context(), collect)
	} else if s.Service.Jobs == nil {
		err = errors.New("admin jobs: no job store configured")
	} else {
		err = s.Service.Jobs.ListJobs(r.Context(), consent.JobFilter{State: state}, collect)
		slices.SortFunc(jobs, func(a, b consent.Job) int {
			if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
	}
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": jobs})
}

// maxRetryIDs caps one POST /admin/jobs/retry by ids.
const maxRetryIDs = 500

type retryRequest struct {
	IDs       []string `json:"ids"`
	AllFailed bool     `json:"all_failed"`
}

// retryJobs answers POST /admin/jobs/retry {"ids": [...]} or
// {"all_failed": true}: it moves each failed job back to pending
// (consent.Service.RetryJob, RetryFailedJobs), as `unbundled jobs retry`
// does, and answers {"results": [{"id", "job"} or {"id", "error"}]}. On
// AWS SweepFunction delivers the retried jobs within 5 minutes; on the
// local server the dispatcher, at once. A request with all_failed retries
// what it finds within the function's timeout; send it again to go on.
func (s *Server) retryJobs(w http.ResponseWriter, r *http.Request) {
	var in retryRequest
	if !s.readAdmin(w, r, &in, `{"ids": ["…"]} or {"all_failed": true}`) {
		return
	}
	var err error
	switch {
	case in.AllFailed && len(in.IDs) > 0:
		err = invalid("ids", "Send ids or all_failed, not both.")
	case !in.AllFailed && len(in.IDs) == 0:
		err = invalid("ids", `Name the jobs to retry, or send "all_failed": true.`)
	case len(in.IDs) > maxRetryIDs:
		err = invalid("ids", "At most 500 jobs per request.")
	}
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	var results []consent.RetryResult
	if in.AllFailed {
		results, err = s.Service.RetryFailedJobs(r.Context(), nil)
	} else {
		for _, id := range in.IDs {
			j, rerr := s.Service.RetryJob(r.Context(), id)
			var verr *consent.ValidationError
			switch {
			case errors.As(rerr, &verr):
				results = append(results, consent.RetryResult{ID: id, Error: fieldMessages(verr)})
			case errors.Is(rerr, consent.ErrNotFound):
				results = append(results, consent.RetryResult{ID: id, Error: "no such job (jobs are kept 30 days)"})
			case errors.Is(rerr, consent.ErrNotRetryable):
				results = append(results, consent.RetryResult{ID: id, Error: rerr.Error()})
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
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	retried := 0
	for _, res := range results {
		if res.Error == "" {
			retried++
		}
	}
	if results == nil {
		results = []consent.RetryResult{}
	}
	s.logger().LogAttrs(r.Context(), slog.LevelInfo, "admin jobs retry", slog.String("operator", operator(r)),
		slog.Int("jobs", len(results)), slog.Int("retried", retried), slog.String("request_id", RequestID(r.Context())))
	writeJSON(w, http.StatusOK, map[string]any{"results": results})
}

// records answers GET /admin/records: the record of processing activities
// (UK GDPR Art. 30) and each magnet's privacy-notice facts, as `unbundled
// records -json` prints them, for the service's live configuration — its
// catalog, retention policy and hosting, with the notices' links under the
// request's base URL (consent.Service.Records), so the notice versions are
// the ones its sign-ups record. It reads no ledger and takes no
// parameters.
func (s *Server) records(w http.ResponseWriter, r *http.Request) {
	if err := s.admit(r); err != nil {
		s.adminFail(w, r, err)
		return
	}
	if q := r.URL.Query(); len(q) > 0 {
		s.adminFail(w, r, invalid(fieldName(slices.Sorted(maps.Keys(q))[0]), "Unknown parameter; GET /admin/records takes none."))
		return
	}
	rec := s.Service.Records(r.Context())
	s.logger().LogAttrs(r.Context(), slog.LevelInfo, "admin records", slog.String("operator", operator(r)),
		slog.Int("controllers", len(rec.Controllers)), slog.Int("notices", len(rec.Notices)), slog.String("request_id", RequestID(r.Context())))
	writeJSON(w, http.StatusOK, rec)
}

// retentionMargin is kept before the request's deadline (on AWS the
// AdminFunction's 29-second timeout), so a run cut short still answers
// with what it did.
const retentionMargin = 3 * time.Second

type retentionRequest struct {
	DryRun *bool `json:"dry_run"`
}

// retentionAnswer is a retention run's report, and whether the run dealt
// with everyone.
type retentionAnswer struct {
	consent.RetentionReport
	// Complete is false when the run stopped before everyone was dealt
	// with (the time limit) or some people could not be; Error says why.
	// What it did is in the report either way; send the request again to
	// go on.
	Complete bool   `json:"complete"`
	Error    string `json:"error,omitempty"`
}

// applyRetention answers POST /admin/retention {"dry_run": true|false}
// (required: say which): it applies the retention policy the service runs
// with (consent.Service.ApplyRetention), as `unbundled retention run` and
// the scheduled RetentionFunction do — or with "dry_run": true reports
// what it would do and writes nothing — and answers the
// consent.RetentionReport, whose erasures name addresses, with "complete"
// (and an "error" when false). The log gets counts, never an address.
//
// The daily RetentionFunction, with up to 15 minutes, is the main path.
// This route runs within the AdminFunction's 29-second timeout, and a run
// reads the whole table (one Scan, then a Query per person): on a large
// table it stops about 3 seconds before the limit and answers "complete":
// false with what it did so far. People are taken in random order, so
// sending it again reaches others; `unbundled retention run` has no time
// limit.
func (s *Server) applyRetention(w http.ResponseWriter, r *http.Request) {
	var in retentionRequest
	if !s.readAdmin(w, r, &in, `{"dry_run": true}`) {
		return
	}
	if in.DryRun == nil {
		s.adminFail(w, r, invalid("dry_run", `Say "dry_run": true to see what would be done, or "dry_run": false to do it.`))
		return
	}
	ctx := r.Context()
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-retentionMargin))
		defer cancel()
	}
	report, err := s.Service.ApplyRetention(ctx, consent.RetentionOptions{DryRun: *in.DryRun})
	if report.At.IsZero() {
		// Refused before it began: nothing was done.
		if err == nil {
			err = errors.New("admin retention: no report")
		}
		s.adminFail(w, r, err)
		return
	}
	answer := retentionAnswer{RetentionReport: report, Complete: err == nil}
	if err != nil {
		answer.Error = err.Error()
	}
	s.logger().LogAttrs(r.Context(), slog.LevelInfo, "admin retention", slog.String("operator", operator(r)),
		slog.Bool("dry_run", report.DryRun), slog.Bool("complete", answer.Complete), slog.Int("people", report.People),
		slog.Int("kept", report.Kept), slog.Int("failed", report.Failed),
		slog.Int("erased_unconfirmed", report.ErasedUnconfirmed), slog.Int("erased_withdrawn", report.ErasedWithdrawn),
		slog.Int("people_minimised", report.PeopleMinimised), slog.Int("events_minimised", report.EventsMinimised),
		slog.String("error", answer.Error), slog.String("request_id", RequestID(r.Context())))
	writeJSON(w, http.StatusOK, answer)
}
