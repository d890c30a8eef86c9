package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/web"
)

const jsonType = "application/json"

func allowAdmin(s *web.Server) { s.AdminAllowed = func(*http.Request) bool { return true } }

func TestMayEmailEndpoint(t *testing.T) {
	e := newEnv(t, allowAdmin)
	if w := e.do(t, "POST", "/signup", jsonType, `{"email":"ann@example.com","magnet":"uk-gdpr-checklist","marketing_consent":true}`); w.Code != http.StatusAccepted {
		t.Fatalf("sign-up: %d %s", w.Code, w.Body)
	}
	w := e.do(t, "POST", "/admin/may-email", jsonType, `{"addresses":["ANN@example.com","bob@example.com","not an address"]}`)
	if w.Code != http.StatusOK {
		t.Fatalf("status: got %d, want 200\n%s", w.Code, w.Body)
	}
	var got struct {
		Decisions []struct {
			Address, Basis, Purpose, Reason, Error string
			Allowed                                bool
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Decisions) != 3 {
		t.Fatalf("decisions: got %d, want 3: %s", len(got.Decisions), w.Body)
	}
	ann, bob, bad := got.Decisions[0], got.Decisions[1], got.Decisions[2]
	if ann.Address != "ANN@example.com" || ann.Allowed || ann.Basis != "none" || !strings.HasSuffix(ann.Reason, "awaits confirmation") || ann.Purpose != consenttest.SamplePurpose {
		t.Errorf("ann (awaiting confirmation): got %+v", ann)
	}
	if bob.Allowed || bob.Basis != "none" || bob.Reason != "no consent recorded for "+consenttest.SamplePurpose {
		t.Errorf("bob (unknown): got %+v", bob)
	}
	if bad.Error == "" || bad.Basis != "" {
		t.Errorf("invalid address: got %+v, want an error and no decision", bad)
	}
}

func TestMayEmailEndpointRefusals(t *testing.T) {
	body := `{"addresses":["ann@example.com"]}`
	tests := []struct {
		name        string
		allow       bool
		contentType string
		body        string
		headers     []string
		want        int
	}{
		{"no admin rights", false, jsonType, body, nil, http.StatusForbidden},
		{"a form post", true, form, "addresses=ann@example.com", nil, http.StatusBadRequest},
		{"from another site", true, jsonType, body, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"unknown member", true, jsonType, `{"addresses":["a@example.com"],"all":true}`, nil, http.StatusBadRequest},
		{"no addresses", true, jsonType, `{"addresses":[]}`, nil, http.StatusBadRequest},
		{"a purpose nobody configured answers none", true, jsonType, `{"addresses":["a@example.com"],"purpose":"marketing:nobody"}`, nil, http.StatusOK},
		{"too many", true, jsonType, `{"addresses":[` + strings.Repeat(`"a@b.example",`, 500) + `"a@b.example"]}`, nil, http.StatusBadRequest},
		{"over 16 KiB (only imports may send more)", true, jsonType, `{"addresses":[` + strings.Repeat(`"a@b.example",`, 1500) + `"a@b.example"]}`, nil, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*web.Server)
			if tt.allow {
				opts = append(opts, allowAdmin)
			}
			e := newEnv(t, opts...)
			if w := e.do(t, "POST", "/admin/may-email", tt.contentType, tt.body, tt.headers...); w.Code != tt.want {
				t.Errorf("status: got %d, want %d\n%s", w.Code, tt.want, w.Body)
			}
		})
	}
}

func TestLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:5000": true, "[::1]:5000": true, "127.9.9.9:1": true,
		"192.0.2.1:5000": false, "[2001:db8::1]:80": false, "": false, "localhost:80": false,
	} {
		r := httptest.NewRequest("POST", "/admin/may-email", nil)
		r.RemoteAddr = addr
		if got := web.LoopbackOnly(r); got != want {
			t.Errorf("LoopbackOnly(%q): got %v, want %v", addr, got, want)
		}
	}
}

// withCategories gives the sample magnet product categories, so customers
// who bought compliance guides can be imported with a soft opt-in.
func withCategories(t *testing.T) func(*web.Server) {
	return func(s *web.Server) {
		m := consenttest.SampleMagnet(t)
		m.ProductCategories = []string{"compliance guides"}
		c := consenttest.CatalogOf(t, m)
		s.Catalog, s.Service.Catalog = c, c
	}
}

const (
	csvType       = "text/csv"
	customersCSV  = "email,name,basis,sale_date,sale_reference,category,opt_out_offered\n"
	carolCustomer = "carol@example.com,Carol,soft_opt_in,2026-01-15,INV-1001,compliance guides,unticked box at checkout\n"
	daveCustomer  = "dave@example.com,,soft_opt_in,2026-02-03,INV-1002,compliance guides,unticked box at checkout\n"
	importQuery   = "/admin/import?file=customers.csv&source=orders+in+our+web+shop&origin=customers"
)

// importReport is the JSON of consent.ImportReport, decoded strictly
// enough to see a null where a list belongs.
type importReport struct {
	File, Digest, Source, Origin, Operator string
	DryRun                                 bool `json:"dry_run"`
	Rows, Imported, Unchanged              int
	Skipped                                *[]consent.ImportSkip
}

func decodeReport(t *testing.T, w *httptest.ResponseRecorder) importReport {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status: got %d, want 200\n%s", w.Code, w.Body)
	}
	var rep importReport
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	if rep.Skipped == nil {
		t.Errorf("skipped: got null, want a list: %s", w.Body)
	}
	return rep
}

func (e *env) mayEmail(t *testing.T, address string) consent.Decision {
	t.Helper()
	d, err := e.svc.MayEmail(t.Context(), address, "")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestImportEndpoint(t *testing.T) {
	e := newEnv(t, allowAdmin, withCategories(t))
	body := customersCSV + carolCustomer + daveCustomer

	rep := decodeReport(t, e.do(t, "POST", importQuery+"&dry_run=true", csvType, body))
	if !rep.DryRun || rep.Rows != 2 || rep.Imported != 2 || len(*rep.Skipped) != 0 {
		t.Errorf("dry run: got %+v, want 2 rows that would be imported", rep)
	}
	if got := e.ledger(t, "carol@example.com"); len(got) != 0 {
		t.Fatalf("a dry run wrote %d events", len(got))
	}

	rep = decodeReport(t, e.do(t, "POST", importQuery, csvType+"; charset=utf-8", body))
	want := importReport{File: "customers.csv", Source: "orders in our web shop", Origin: "customers", Operator: "local",
		Rows: 2, Imported: 2, Digest: rep.Digest, Skipped: rep.Skipped}
	if rep != want || len(rep.Digest) != 64 {
		t.Errorf("report: got %+v, want %+v", rep, want)
	}
	for _, address := range []string{"carol@example.com", "dave@example.com"} {
		if d := e.mayEmail(t, address); !d.Allowed || d.Basis != consent.BasisSoftOptIn {
			t.Errorf("may-email %s after the import: got %+v, want allowed on soft_opt_in", address, d)
		}
	}

	if rep := decodeReport(t, e.do(t, "POST", importQuery, csvType, body)); rep.Imported != 0 || rep.Unchanged != 2 {
		t.Errorf("the same file again: got %+v, want 2 unchanged", rep)
	}

	// A JSON file may carry its own source and origin.
	corporate := `{"source": "trade show 2026, badge scans", "origin": "business_contacts", "contacts": [
		{"email": "erin@corp.example", "basis": "corporate", "organisation": "Corp Ltd", "company_number": "01234567",
		 "role": "Head of Compliance", "lia_reference": "LIA-2026-01"}]}`
	rep = decodeReport(t, e.do(t, "POST", "/admin/import?file=trade-show.json", jsonType, corporate))
	if rep.Imported != 1 || rep.Origin != consent.OriginBusinessContacts || rep.Source != "trade show 2026, badge scans" {
		t.Errorf("JSON import: got %+v", rep)
	}
	if d := e.mayEmail(t, "erin@corp.example"); !d.Allowed || d.Basis != consent.BasisCorporate {
		t.Errorf("may-email after a corporate import: got %+v, want allowed on corporate", d)
	}
}

func TestImportEndpointSkipsPeopleWhoLeft(t *testing.T) {
	e := newEnv(t, allowAdmin, withCategories(t))
	if w := e.do(t, "POST", "/admin/object", jsonType, `{"addresses":["carol@example.com"]}`); w.Code != http.StatusOK {
		t.Fatalf("object: %d %s", w.Code, w.Body)
	}
	rep := decodeReport(t, e.do(t, "POST", importQuery, csvType, customersCSV+carolCustomer+daveCustomer))
	if rep.Imported != 1 || len(*rep.Skipped) != 1 {
		t.Fatalf("report: got %+v, want dave imported and carol skipped", rep)
	}
	if s := (*rep.Skipped)[0]; s.Row != 2 || s.Email != "carol@example.com" || !strings.HasPrefix(s.Reason, "objected ") {
		t.Errorf("skipped: got %+v, want row 2, carol, objected", s)
	}
	if d := e.mayEmail(t, "carol@example.com"); d.Allowed || d.Basis != consent.BasisObjected {
		t.Errorf("may-email carol: got %+v, want objected", d)
	}
}

// TestImportEndpointRecordsTheOperator: the operator on imported events is
// the one the Lambda adapter put in the request's context, never a header.
func TestImportEndpointRecordsTheOperator(t *testing.T) {
	const arn = "arn:aws:sts::123456789012:assumed-role/unbundled-operator/operator"
	e := newEnv(t, allowAdmin, withCategories(t))
	for _, tt := range []struct {
		name, operator, email, row, want string
	}{
		{"IAM caller in the context", arn, "carol@example.com", carolCustomer, arn},
		{"local server: the connection", "", "dave@example.com", daveCustomer, "local"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", importQuery, strings.NewReader(customersCSV+tt.row))
			r.Header.Set("Content-Type", csvType)
			r.RemoteAddr = "127.0.0.1:40000"
			for _, h := range []string{"X-Operator", "Operator", "X-Amzn-Oidc-Identity", "X-Forwarded-User"} {
				r.Header.Set(h, "mallory")
			}
			if tt.operator != "" {
				r = r.WithContext(web.WithOperator(r.Context(), tt.operator))
			}
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			if rep := decodeReport(t, w); rep.Operator != tt.want {
				t.Errorf("report operator: got %q, want %q", rep.Operator, tt.want)
			}
			events := e.ledger(t, tt.email)
			if len(events) != 1 || events[0].Type != consent.EventImported || events[0].Import.Operator != tt.want {
				t.Fatalf("ledger: got %+v, want one imported event by %s", events, tt.want)
			}
		})
	}
}

func TestImportEndpointRefusals(t *testing.T) {
	good := customersCSV + daveCustomer
	tests := []struct {
		name        string
		admin       func(*http.Request) bool
		target      string
		contentType string
		body        string
		headers     []string
		want        int
	}{
		{"no admin rights", nil, importQuery, csvType, good, nil, http.StatusForbidden},
		{"not from this machine", web.LoopbackOnly, importQuery, csvType, good, nil, http.StatusForbidden},
		{"from another site", allow, importQuery, csvType, good, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"a form post", allow, importQuery, form, "email=a@example.com", nil, http.StatusBadRequest},
		{"plain text (no preflight)", allow, importQuery, "text/plain", good, nil, http.StatusBadRequest},
		{"no file name", allow, "/admin/import?source=shop&origin=customers", csvType, good, nil, http.StatusBadRequest},
		{"a CSV named .json", allow, "/admin/import?file=c.json&source=shop&origin=customers", csvType, good, nil, http.StatusBadRequest},
		{"unknown parameter", allow, importQuery + "&operator=mallory", csvType, good, nil, http.StatusBadRequest},
		{"a parameter twice", allow, importQuery + "&origin=customers", csvType, good, nil, http.StatusBadRequest},
		{"dry_run not a boolean", allow, importQuery + "&dry_run=perhaps", csvType, good, nil, http.StatusBadRequest},
		{"over 5 MiB", allow, importQuery, csvType, customersCSV + strings.Repeat(daveCustomer, 5<<20/len(daveCustomer)), nil, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withCategories(t), func(s *web.Server) { s.AdminAllowed = tt.admin })
			w := e.do(t, "POST", tt.target, tt.contentType, tt.body, tt.headers...)
			if w.Code != tt.want {
				t.Errorf("status: got %d, want %d\n%s", w.Code, tt.want, w.Body)
			}
			if got := w.Header().Get("Content-Type"); got != jsonType {
				t.Errorf("Content-Type: got %q, want JSON errors for the operator's tools", got)
			}
			if got := e.ledger(t, "dave@example.com"); len(got) != 0 {
				t.Errorf("refused, yet dave's ledger has %d events", len(got))
			}
		})
	}
}

func allow(*http.Request) bool { return true }

// TestImportEndpointProblems: a file with problems is refused whole, 422
// with every problem, and nothing is written.
func TestImportEndpointProblems(t *testing.T) {
	tests := []struct {
		name, target, body string
		want               []consent.ImportProblem
	}{
		{
			name:   "one bad row",
			target: importQuery,
			body:   customersCSV + carolCustomer + "frank@example.com,,soft_opt_in,last week,INV-9,compliance guides,unticked box\n" + daveCustomer,
			want:   []consent.ImportProblem{{Row: 3, Field: "sale_date", Message: "must be a date like 2026-03-01"}},
		},
		{
			name:   "a bought list",
			target: "/admin/import?file=customers.csv&source=list+broker&origin=purchased",
			body:   customersCSV + carolCustomer + daveCustomer,
			want: []consent.ImportProblem{{Field: "origin", Message: "bought or rented lists cannot be imported: " +
				"marketing email needs consent given to you, or a soft opt-in or business relationship of your own"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, allowAdmin, withCategories(t))
			w := e.do(t, "POST", tt.target, csvType, tt.body)
			if w.Code != http.StatusUnprocessableEntity {
				t.Fatalf("status: got %d, want 422\n%s", w.Code, w.Body)
			}
			var got struct {
				Error    string
				Problems []consent.ImportProblem
			}
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Error != "import refused, nothing written" || fmt.Sprint(got.Problems) != fmt.Sprint(tt.want) {
				t.Errorf("answer: got %+v, want problems %+v", got, tt.want)
			}
			for _, address := range []string{"carol@example.com", "dave@example.com"} {
				if events := e.ledger(t, address); len(events) != 0 {
					t.Errorf("refused file wrote %d events for %s", len(events), address)
				}
			}
		})
	}
}

// TestImportEndpointTakesLargeFiles: the import route has its own body
// limit, far above the 16 KiB of every other route.
func TestImportEndpointTakesLargeFiles(t *testing.T) {
	e := newEnv(t, allowAdmin, withCategories(t))
	var b strings.Builder
	b.WriteString(customersCSV)
	for i := range 2000 {
		fmt.Fprintf(&b, "person%d@example.com,,soft_opt_in,2026-01-15,INV-%d,compliance guides,unticked box at checkout\n", i, i)
	}
	if b.Len() < 100<<10 {
		t.Fatalf("test file is only %d bytes", b.Len())
	}
	if rep := decodeReport(t, e.do(t, "POST", importQuery+"&dry_run=true", csvType, b.String())); rep.Rows != 2000 || rep.Imported != 2000 {
		t.Errorf("report: got %+v, want 2000 rows", rep)
	}
}

func TestObjectEndpoint(t *testing.T) {
	e := newEnv(t, allowAdmin)
	w := e.do(t, "POST", "/admin/object", jsonType, `{"addresses":["ann@example.com","ANN@example.com","not an address"]}`)
	if w.Code != http.StatusOK {
		t.Fatalf("status: got %d, want 200\n%s", w.Code, w.Body)
	}
	want := `{"results":[{"address":"ann@example.com","recorded":true},{"address":"ANN@example.com","recorded":false},` +
		`{"address":"not an address","error":"Enter a valid email address, like name@example.com."}]}`
	if got := strings.TrimSpace(w.Body.String()); got != want {
		t.Errorf("answer:\ngot  %s\nwant %s", got, want)
	}
	events := e.ledger(t, "ann@example.com")
	if len(events) != 1 || events[0].Type != consent.EventObjected || events[0].Method != consent.MethodOperator || events[0].RequestID == "" {
		t.Errorf("ledger: got %+v, want one objected event by the operator, with the request id", events)
	}
	if d := e.mayEmail(t, "ann@example.com"); d.Basis != consent.BasisObjected {
		t.Errorf("may-email: got %+v, want objected", d)
	}
}

func TestEraseEndpoint(t *testing.T) {
	e := newEnv(t, allowAdmin)
	if w := e.do(t, "POST", "/signup", jsonType, `{"email":"ann@example.com","magnet":"uk-gdpr-checklist","marketing_consent":true}`); w.Code != http.StatusAccepted {
		t.Fatalf("sign-up: %d %s", w.Code, w.Body)
	}
	type answer struct {
		Address   string
		Tombstone *consent.Tombstone
		Erased    consent.Erased
		Already   bool
		Error     string
	}
	erase := func(body string) []answer {
		t.Helper()
		w := e.do(t, "POST", "/admin/erase", jsonType, body)
		if w.Code != http.StatusOK {
			t.Fatalf("status: got %d, want 200\n%s", w.Code, w.Body)
		}
		var got struct{ Results []answer }
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		return got.Results
	}
	got := erase(`{"addresses":["Ann@example.com","not an address"],"reason":"erasure request by email, 2 December 2026"}`)
	if len(got) != 2 {
		t.Fatalf("results: got %+v, want 2", got)
	}
	ann, bad := got[0], got[1]
	if ann.Address != "Ann@example.com" || ann.Already || ann.Erased.Events == 0 || ann.Tombstone == nil ||
		ann.Tombstone.Reason != "erasure request by email, 2 December 2026" || ann.Error != "" {
		t.Errorf("ann: got %+v, want erased with a tombstone", ann)
	}
	if bad.Error == "" || bad.Tombstone != nil {
		t.Errorf("invalid address: got %+v, want an error", bad)
	}
	if events := e.ledger(t, "ann@example.com"); len(events) != 0 {
		t.Errorf("ledger after erasure: %d events left", len(events))
	}
	if d := e.mayEmail(t, "ann@example.com"); d.Allowed || !strings.HasPrefix(d.Reason, "erased ") {
		t.Errorf("may-email after erasure: got %+v, want erased", d)
	}
	if again := erase(`{"addresses":["ann@example.com"],"reason":"again"}`); !again[0].Already || again[0].Erased != (consent.Erased{}) ||
		again[0].Tombstone.Reason != ann.Tombstone.Reason {
		t.Errorf("erasing again: got %+v, want already erased, nothing more removed, the first tombstone", again[0])
	}
}

func TestEraseEndpointRefusals(t *testing.T) {
	tests := []struct {
		name        string
		admin       func(*http.Request) bool
		contentType string
		body        string
		want        int
	}{
		{"no admin rights", nil, jsonType, `{"addresses":["bob@example.com"],"reason":"request"}`, http.StatusForbidden},
		{"not from this machine", web.LoopbackOnly, jsonType, `{"addresses":["bob@example.com"],"reason":"request"}`, http.StatusForbidden},
		{"no reason", allow, jsonType, `{"addresses":["bob@example.com"]}`, http.StatusBadRequest},
		{"a reason over two lines", allow, jsonType, `{"addresses":["bob@example.com"],"reason":"a\nb"}`, http.StatusBadRequest},
		{"bad JSON", allow, jsonType, `{"addresses":["bob@example.com"],"reason":"request"`, http.StatusBadRequest},
		{"unknown member", allow, jsonType, `{"addresses":["bob@example.com"],"reason":"request","all":true}`, http.StatusBadRequest},
		{"no addresses", allow, jsonType, `{"addresses":[],"reason":"request"}`, http.StatusBadRequest},
		{"a form post", allow, form, "addresses=bob@example.com&reason=request", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(s *web.Server) { s.AdminAllowed = tt.admin })
			if w := e.do(t, "POST", "/signup", jsonType, `{"email":"bob@example.com","magnet":"uk-gdpr-checklist"}`); w.Code != http.StatusAccepted {
				t.Fatalf("sign-up: %d %s", w.Code, w.Body)
			}
			if w := e.do(t, "POST", "/admin/erase", tt.contentType, tt.body); w.Code != tt.want {
				t.Errorf("status: got %d, want %d\n%s", w.Code, tt.want, w.Body)
			}
			if events := e.ledger(t, "bob@example.com"); len(events) == 0 {
				t.Error("refused, yet bob was erased")
			}
		})
	}
}

func TestObjectEndpointRefusals(t *testing.T) {
	tests := []struct {
		name        string
		admin       func(*http.Request) bool
		contentType string
		body        string
		want        int
	}{
		{"no admin rights", nil, jsonType, `{"addresses":["bob@example.com"]}`, http.StatusForbidden},
		{"not from this machine", web.LoopbackOnly, jsonType, `{"addresses":["bob@example.com"]}`, http.StatusForbidden},
		{"bad JSON", allow, jsonType, `{"addresses":"bob@example.com"}`, http.StatusBadRequest},
		{"two objects", allow, jsonType, `{"addresses":["bob@example.com"]}{}`, http.StatusBadRequest},
		{"no addresses", allow, jsonType, `{}`, http.StatusBadRequest},
		{"a form post", allow, form, "addresses=bob@example.com", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(s *web.Server) { s.AdminAllowed = tt.admin })
			if w := e.do(t, "POST", "/admin/object", tt.contentType, tt.body); w.Code != tt.want {
				t.Errorf("status: got %d, want %d\n%s", w.Code, tt.want, w.Body)
			}
			if events := e.ledger(t, "bob@example.com"); len(events) != 0 {
				t.Errorf("refused, yet bob's ledger has %d events", len(events))
			}
		})
	}
}

func TestSuppressionEndpoint(t *testing.T) {
	e := newEnv(t, allowAdmin)
	w := e.do(t, "GET", "/admin/suppression", "", "")
	if w.Code != http.StatusOK || w.Body.String() != "email,status,purpose,since,method\n" {
		t.Errorf("nobody left yet: got %d %q, want the header row alone", w.Code, w.Body)
	}
	if w := e.do(t, "POST", "/admin/object", jsonType, `{"addresses":["bob@example.com"]}`); w.Code != http.StatusOK {
		t.Fatalf("object: %d %s", w.Code, w.Body)
	}
	objected := e.ledger(t, "bob@example.com")[0].At.UTC()
	since := objected.Format(time.RFC3339)

	w = e.do(t, "GET", "/admin/suppression", "", "")
	if w.Code != http.StatusOK {
		t.Fatalf("status: got %d, want 200\n%s", w.Code, w.Body)
	}
	if got, want := w.Body.String(), "email,status,purpose,since,method\nbob@example.com,objected,,"+since+",operator\n"; got != want {
		t.Errorf("CSV:\ngot  %q\nwant %q", got, want)
	}
	for h, want := range map[string]string{"Content-Type": "text/csv; charset=utf-8", "Content-Disposition": `attachment; filename="suppression.csv"`} {
		if got := w.Header().Get(h); got != want {
			t.Errorf("%s: got %q, want %q", h, got, want)
		}
	}

	w = e.do(t, "GET", "/admin/suppression?format=json", "", "")
	want := `{"suppressions":[{"email":"bob@example.com","status":"objected","since":"` + objected.Format(time.RFC3339Nano) + `","method":"operator"}]}`
	if got := strings.TrimSpace(w.Body.String()); w.Code != http.StatusOK || got != want {
		t.Errorf("JSON: got %d %s, want %s", w.Code, got, want)
	}
}

func TestSuppressionEndpointRefusals(t *testing.T) {
	tests := []struct {
		name    string
		admin   func(*http.Request) bool
		target  string
		headers []string
		want    int
	}{
		{"no admin rights", nil, "/admin/suppression", nil, http.StatusForbidden},
		{"not from this machine", web.LoopbackOnly, "/admin/suppression", nil, http.StatusForbidden},
		{"read by another site's page", allow, "/admin/suppression", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"unknown format", allow, "/admin/suppression?format=xlsx", nil, http.StatusBadRequest},
		{"unknown parameter", allow, "/admin/suppression?since=2026-01-01", nil, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(s *web.Server) { s.AdminAllowed = tt.admin })
			w := e.do(t, "GET", tt.target, "", "", tt.headers...)
			if w.Code != tt.want {
				t.Errorf("status: got %d, want %d\n%s", w.Code, tt.want, w.Body)
			}
			if got := w.Header().Get("Content-Type"); got != jsonType {
				t.Errorf("Content-Type: got %q, want a JSON error", got)
			}
		})
	}
}

// signedUp signs ann up through the API, ticking the box.
func signedUp(t *testing.T, e *env) {
	t.Helper()
	if w := e.do(t, "POST", "/signup", jsonType, `{"email":"ann@example.com","name":"Anm","magnet":"uk-gdpr-checklist","marketing_consent":true}`); w.Code != http.StatusAccepted {
		t.Fatalf("sign-up: %d %s", w.Code, w.Body)
	}
}

func TestProofEndpoint(t *testing.T) {
	e := newEnv(t, allowAdmin)
	signedUp(t, e)
	w := e.do(t, "POST", "/admin/proof", jsonType, `{"address":"ANN@example.com"}`)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != jsonType {
		t.Fatalf("JSON: %d %s\n%s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	var p consent.Proof
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if p.Email != "ann@example.com" || len(p.Events) != 2 || p.Events[0].Summary == "" || len(p.Deliveries) != 1 || len(p.Texts) == 0 {
		t.Errorf("proof: got %+v", p)
	}
	w = e.do(t, "POST", "/admin/proof?format=html", jsonType, `{"address":"ann@example.com"}`)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.Contains(w.Body.String(), "<title>Proof of consent: ann@example.com</title>") || w.Header().Get("Content-Security-Policy") == "" {
		t.Errorf("HTML: %d %v\n%s", w.Code, w.Header(), w.Body)
	}
	w = e.do(t, "POST", "/admin/proof?format=text", jsonType, `{"address":"ann@example.com"}`)
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Body.String(), "PROOF OF CONSENT: ann@example.com\n") {
		t.Errorf("text: %d\n%s", w.Code, w.Body)
	}
	if !strings.Contains(e.logs.String(), `"msg":"admin proof"`) || strings.Contains(e.logs.String(), "ann@example.com") {
		t.Errorf("logs: want an admin proof line without the address:\n%s", e.logs)
	}
}

func TestPersonEndpointsRefusals(t *testing.T) {
	tests := []struct {
		name, target, body string
		allow              bool
		want               int
		wantText           string
	}{
		{"no admin rights", "/admin/proof", `{"address":"ann@example.com"}`, false, http.StatusForbidden, "operator's credentials"},
		{"an address in the URL", "/admin/proof?address=ann@example.com", `{"address":"ann@example.com"}`, true, http.StatusBadRequest, `"address":"Unknown parameter`},
		{"an unknown format", "/admin/proof?format=pdf", `{"address":"ann@example.com"}`, true, http.StatusBadRequest, `"format"`},
		{"a bad address", "/admin/proof", `{"address":"nope"}`, true, http.StatusBadRequest, `"address":"Enter a valid email address`},
		{"no address", "/admin/export", `{}`, true, http.StatusBadRequest, `"address":"Name the address."`},
		{"several addresses", "/admin/export", `{"addresses":["ann@example.com"]}`, true, http.StatusBadRequest, `"body"`},
		{"rectify without a name", "/admin/rectify", `{"address":"ann@example.com"}`, true, http.StatusBadRequest, `"name"`},
		{"rectify to a bad name", "/admin/rectify", `{"address":"ann@example.com","name":"see www.evil"}`, true, http.StatusBadRequest, `"name"`},
		{"rectify nobody", "/admin/rectify", `{"address":"nobody@example.com","name":"Ann"}`, true, http.StatusBadRequest, "Nobody with this address is on record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*web.Server)
			if tt.allow {
				opts = append(opts, allowAdmin)
			}
			e := newEnv(t, opts...)
			signedUp(t, e)
			if w := e.do(t, "POST", tt.target, jsonType, tt.body); w.Code != tt.want || !strings.Contains(w.Body.String(), tt.wantText) {
				t.Errorf("got %d %s, want %d and %q", w.Code, w.Body, tt.want, tt.wantText)
			}
		})
	}
}

func TestExportAndRectifyEndpoints(t *testing.T) {
	e := newEnv(t, allowAdmin)
	signedUp(t, e)
	w := e.do(t, "POST", "/admin/rectify", jsonType, `{"address":"ann@example.com","name":" Ann Lee "}`)
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"address":"ann@example.com","name":"Ann Lee","rectified":true}` {
		t.Fatalf("rectify: %d %s", w.Code, w.Body)
	}
	ledger := e.ledger(t, "ann@example.com")
	if last := ledger[len(ledger)-1]; last.Type != consent.EventRectified || last.RequestID == "" {
		t.Errorf("rectified event: got %+v, want one with the request id", last)
	}
	w = e.do(t, "POST", "/admin/export", jsonType, `{"address":"ann@example.com"}`)
	var x consent.Export
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &x) != nil || x.Name != "Ann Lee" || len(x.Events) != 3 || len(x.Deliveries) != 1 || len(x.Decisions) != 1 {
		t.Errorf("export: %d %s", w.Code, w.Body)
	}
}

func TestAuditEndpoint(t *testing.T) {
	e := newEnv(t, allowAdmin)
	signedUp(t, e)
	today := time.Now().UTC().Format(time.DateOnly)
	w := e.do(t, "GET", "/admin/audit?magnet=uk-gdpr-checklist&from="+today, "", "")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("CSV: %d %s", w.Code, w.Body)
	}
	lines := strings.Split(strings.TrimSpace(w.Body.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "time,subscriber,email,") || !strings.Contains(lines[1], ",ann@example.com,uk-gdpr-checklist,marketing:example-ltd,granted,checkbox,") {
		t.Errorf("CSV:\n%s", w.Body)
	}
	w = e.do(t, "GET", "/admin/audit?format=json&to="+today, "", "")
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"events":[]}` {
		t.Errorf("JSON before today: %d %s", w.Code, w.Body)
	}
	for _, target := range []string{"/admin/audit?from=yesterday", "/admin/audit?from=2026-12-01&to=2026-11-01", "/admin/audit?email=ann@example.com", "/admin/audit?format=xml"} {
		if w := e.do(t, "GET", target, "", ""); w.Code != http.StatusBadRequest {
			t.Errorf("GET %s: got %d, want 400: %s", target, w.Code, w.Body)
		}
	}
}

func TestSuppressionChangeEndpoint(t *testing.T) {
	e := newEnv(t, allowAdmin)
	signedUp(t, e)
	if err := e.svc.RecordFeedback(t.Context(), consent.Feedback{ID: "sns-1", Kind: consent.FeedbackComplaint, Recipients: []string{"ann@example.com"}}); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		Address    string
		Changed    *bool
		Suppressed bool
		Reason     string
		Error      string
	}
	post := func(body string) []answer {
		t.Helper()
		w := e.do(t, "POST", "/admin/suppression", jsonType, body)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", body, w.Code, w.Body)
		}
		var got struct{ Results []answer }
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		return got.Results
	}
	got := post(`{"action":"check","addresses":["ann@example.com","bob@example.com","nope"]}`)
	if len(got) != 3 || !got[0].Suppressed || !strings.Contains(got[0].Reason, "spam complaint") || got[1].Suppressed || got[2].Error == "" || got[0].Changed != nil {
		t.Errorf("check: %+v", got)
	}
	got = post(`{"action":"remove","addresses":["ann@example.com"],"reason":"she asked us to"}`)
	if got[0].Error == "" || !strings.Contains(got[0].Error, "spam complaint") {
		t.Errorf("remove without force: %+v, want an error naming the complaint", got)
	}
	got = post(`{"action":"remove","addresses":["ann@example.com"],"reason":"she asked us to, by letter","force":true}`)
	if got[0].Changed == nil || !*got[0].Changed {
		t.Errorf("remove with force: %+v", got)
	}
	got = post(`{"action":"add","addresses":["bob@example.com","bob@example.com"],"reason":"asked by phone for no email at all"}`)
	if !*got[0].Changed || *got[1].Changed {
		t.Errorf("add twice: %+v, want changed then unchanged", got)
	}
	ledger := e.ledger(t, "bob@example.com")
	if len(ledger) != 1 || ledger[0].Type != consent.EventSuppressed || ledger[0].Reason != "asked by phone for no email at all" || ledger[0].RequestID == "" {
		t.Errorf("bob's ledger: %+v", ledger)
	}
	for _, body := range []string{
		`{"action":"purge","addresses":["ann@example.com"]}`,
		`{"action":"add","addresses":["ann@example.com"]}`,
		`{"action":"add","addresses":["ann@example.com"],"reason":"x","force":true}`,
		`{"action":"add","addresses":["ann@example.com"],"reason":"two\nlines"}`,
		`{"action":"check","addresses":[]}`,
		`{"action":"check","addresses":["ann@example.com"],"reason":"x"}`,
	} {
		if w := e.do(t, "POST", "/admin/suppression", jsonType, body); w.Code != http.StatusBadRequest {
			t.Errorf("%s: got %d, want 400: %s", body, w.Code, w.Body)
		}
	}
	if w := e.do(t, "GET", "/admin/suppression", "", ""); !strings.Contains(w.Body.String(), "bob@example.com,suppressed,,") || strings.Contains(w.Body.String(), "ann@example.com,suppressed") {
		t.Errorf("list: %s", w.Body)
	}
}

func TestJobsEndpoints(t *testing.T) {
	e := newEnv(t, allowAdmin)
	e.mailer.Err = fmt.Errorf("%w: MessageRejected: Email address is not verified", consent.ErrRejected)
	signedUp(t, e)
	if w := e.do(t, "POST", "/signup", jsonType, `{"email":"bob@example.com","magnet":"uk-gdpr-checklist"}`); w.Code != http.StatusAccepted {
		t.Fatal(w.Body)
	}
	e.mailer.Err = nil
	w := e.do(t, "GET", "/admin/jobs?state=failed", "", "")
	var listed struct{ Jobs []consent.Job }
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &listed) != nil || len(listed.Jobs) != 2 || listed.Jobs[0].State != consent.JobFailed {
		t.Fatalf("jobs: %d %s", w.Code, w.Body)
	}
	type results struct {
		Results []consent.RetryResult
	}
	retry := func(body string) results {
		t.Helper()
		w := e.do(t, "POST", "/admin/jobs/retry", jsonType, body)
		var got results
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &got) != nil {
			t.Fatalf("%s: %d %s", body, w.Code, w.Body)
		}
		return got
	}
	got := retry(fmt.Sprintf(`{"ids":[%q,"no-such-job"]}`, listed.Jobs[0].ID))
	if len(got.Results) != 2 || got.Results[0].Job == nil || got.Results[1].Error != "no such job (jobs are kept 30 days)" {
		t.Errorf("retry by id: %+v", got)
	}
	if n := len(e.mailer.Sent()); n != 1 {
		t.Errorf("after retrying one job: sent %d, want 1 (delivered at once)", n)
	}
	got = retry(`{"all_failed":true}`)
	if len(got.Results) != 1 || got.Results[0].ID != listed.Jobs[1].ID || got.Results[0].Job == nil {
		t.Errorf("retry all failed: %+v", got)
	}
	if n := len(e.mailer.Sent()); n != 2 {
		t.Errorf("after retrying all: sent %d, want 2", n)
	}
	if got := retry(`{"all_failed":true}`); len(got.Results) != 0 {
		t.Errorf("nothing left: %+v", got)
	}
	if w := e.do(t, "GET", "/admin/jobs", "", ""); !strings.Contains(w.Body.String(), `"state":"sent"`) {
		t.Errorf("every job: %s", w.Body)
	}
	for _, tc := range []struct{ method, target, body string }{
		{"GET", "/admin/jobs?state=lost", ""},
		{"POST", "/admin/jobs/retry", `{}`},
		{"POST", "/admin/jobs/retry", `{"ids":["x"],"all_failed":true}`},
	} {
		if w := e.do(t, tc.method, tc.target, jsonType, tc.body); w.Code != http.StatusBadRequest {
			t.Errorf("%s %s %s: got %d, want 400: %s", tc.method, tc.target, tc.body, w.Code, w.Body)
		}
	}
	if w := newEnv(t).do(t, "POST", "/admin/jobs/retry", jsonType, `{"all_failed":true}`); w.Code != http.StatusForbidden {
		t.Errorf("without admin rights: got %d", w.Code)
	}
}

func TestRecordsEndpoint(t *testing.T) {
	e := newEnv(t, allowAdmin)
	e.svc.Hosting = consent.Hosting{Region: "eu-west-1"}
	w := e.do(t, "GET", "/admin/records", "", "")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != jsonType {
		t.Fatalf("records: %d %s\n%s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	var rec consent.Records
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		t.Fatal(err)
	}
	// The live configuration, linking under the service's base URL: the
	// notice versions are the ones sign-ups record.
	if want := consent.BuildRecords(e.svc.Catalog, e.svc.Retention, consent.Hosting{Region: "eu-west-1", BaseURL: e.svc.BaseURL}); !reflect.DeepEqual(rec, want) {
		t.Errorf("records:\ngot  %+v\nwant %+v", rec, want)
	}
	m, _ := e.svc.Catalog.Get("uk-gdpr-checklist")
	if len(rec.Notices) != 1 || rec.Notices[0].NoticeVersion != e.svc.CurrentNotice(t.Context(), m).ID ||
		rec.Notices[0].NoticeURL != "https://signup.example.com/notice?magnet=uk-gdpr-checklist" || rec.Hosting != "Amazon Web Services, region eu-west-1 (Ireland)" {
		t.Errorf("notices %+v, hosting %q", rec.Notices, rec.Hosting)
	}
	if !strings.Contains(e.logs.String(), `"msg":"admin records"`) {
		t.Errorf("logs: want an admin records line:\n%s", e.logs)
	}
	for _, tc := range []struct {
		name, target string
		allow        bool
		want         int
		wantText     string
	}{
		{"no admin rights", "/admin/records", false, http.StatusForbidden, "operator's credentials"},
		{"a parameter", "/admin/records?format=html", true, http.StatusBadRequest, `"format":"Unknown parameter`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []func(*web.Server)
			if tc.allow {
				opts = append(opts, allowAdmin)
			}
			if w := newEnv(t, opts...).do(t, "GET", tc.target, "", ""); w.Code != tc.want || !strings.Contains(w.Body.String(), tc.wantText) {
				t.Errorf("got %d %s, want %d and %q", w.Code, w.Body, tc.want, tc.wantText)
			}
		})
	}
}

// retentionAnswer is the JSON of POST /admin/retention.
type retentionAnswer struct {
	consent.RetentionReport
	Complete bool   `json:"complete"`
	Error    string `json:"error"`
}

func (e *env) retention(t *testing.T, r *http.Request) retentionAnswer {
	t.Helper()
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	var got retentionAnswer
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if w.Code != http.StatusOK || dec.Decode(&got) != nil {
		t.Fatalf("retention: %d %s", w.Code, w.Body)
	}
	return got
}

func TestRetentionEndpoint(t *testing.T) {
	e := newEnv(t, allowAdmin)
	if w := e.do(t, "POST", "/signup", jsonType, `{"email":"bob@example.com","magnet":"uk-gdpr-checklist"}`); w.Code != http.StatusAccepted {
		t.Fatalf("sign-up: %d %s", w.Code, w.Body)
	}
	// 40 days on: bob, a freebie-only sign-up, is past the 30-day period.
	e.svc.Now = func() time.Time { return time.Now().Add(40 * 24 * time.Hour) }
	post := func(body string) *http.Request {
		r := httptest.NewRequest("POST", "/admin/retention", strings.NewReader(body))
		r.Header.Set("Content-Type", jsonType)
		return r
	}

	got := e.retention(t, post(`{"dry_run":true}`))
	if !got.Complete || got.Error != "" || !got.DryRun || got.People != 1 || got.ErasedUnconfirmed != 1 || len(got.Erasures) != 1 ||
		got.Erasures[0].Email != "bob@example.com" || got.Erasures[0].Rule != consent.RetentionUnconfirmed || got.Policy != consent.DefaultRetention.Days() {
		t.Errorf("dry run: %+v", got)
	}
	if len(e.ledger(t, "bob@example.com")) == 0 {
		t.Fatalf("the dry run erased bob")
	}

	got = e.retention(t, post(`{"dry_run":false}`))
	if !got.Complete || got.DryRun || got.ErasedUnconfirmed != 1 || len(got.Erasures) != 1 || got.Erasures[0].Erased.Events == 0 {
		t.Errorf("run: %+v", got)
	}
	if n := len(e.ledger(t, "bob@example.com")); n != 0 {
		t.Errorf("after the run bob has %d events, want 0 (erased)", n)
	}
	if !strings.Contains(e.logs.String(), `"msg":"admin retention"`) || strings.Contains(e.logs.String(), "bob@example.com") {
		t.Errorf("logs: want an admin retention line without the address:\n%s", e.logs)
	}

	// A request whose deadline is within the margin stops at once, and
	// says so with what it did.
	if w := e.do(t, "POST", "/signup", jsonType, `{"email":"carol@example.com","magnet":"uk-gdpr-checklist"}`); w.Code != http.StatusAccepted {
		t.Fatalf("sign-up: %d %s", w.Code, w.Body)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	got = e.retention(t, post(`{"dry_run":true}`).WithContext(ctx))
	if got.Complete || !strings.Contains(got.Error, "retention: ") || len(got.Erasures) != 0 {
		t.Errorf("cut short: %+v, want complete false with an error", got)
	}
}

func TestRetentionEndpointRefusals(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		headers                 []string
		allow                   bool
		want                    int
		wantText                string
	}{
		{"no admin rights", jsonType, `{"dry_run":true}`, nil, false, http.StatusForbidden, "operator's credentials"},
		{"from another site", jsonType, `{"dry_run":true}`, []string{"Origin", "https://evil.example"}, true, http.StatusForbidden, ""},
		{"no dry_run", jsonType, `{}`, nil, true, http.StatusBadRequest, `"dry_run":`},
		{"a null dry_run", jsonType, `{"dry_run":null}`, nil, true, http.StatusBadRequest, `"dry_run":`},
		{"an empty body", jsonType, ``, nil, true, http.StatusBadRequest, `"body":`},
		{"dry_run not a boolean", jsonType, `{"dry_run":"yes"}`, nil, true, http.StatusBadRequest, `"body":`},
		{"an unknown member", jsonType, `{"dry_run":true,"all":true}`, nil, true, http.StatusBadRequest, `"body":`},
		{"a form post", form, "dry_run=true", nil, true, http.StatusBadRequest, `"body":`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*web.Server)
			if tt.allow {
				opts = append(opts, allowAdmin)
			}
			e := newEnv(t, opts...)
			w := e.do(t, "POST", "/admin/retention", tt.contentType, tt.body, tt.headers...)
			if w.Code != tt.want || !strings.Contains(w.Body.String(), tt.wantText) {
				t.Errorf("got %d %s, want %d and %q", w.Code, w.Body, tt.want, tt.wantText)
			}
		})
	}
}
