package consent_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/magnet"
)

// withCategories sells "compliance guides" under the sample magnet's
// purpose, so customers of them may be imported with a soft opt-in.
func withCategories(t *testing.T, f *fixture) {
	t.Helper()
	f.setMagnet(t, func(m *magnet.Magnet) { m.ProductCategories = []string{"Compliance guides"} })
}

const customersCSV = `email,name,basis,sale_date,sale_reference,category,opt_out_offered
ann@example.com,Ann Lee,soft_opt_in,2026-03-01,INV-1001,compliance guides,unticked box at checkout
BOB@Example.COM,,soft_opt_in,2026-04-11,INV-1002,Compliance Guides,unticked box at checkout
`

func importCSV(t *testing.T, f *fixture, data string, opts consent.ImportOptions) (consent.ImportReport, error) {
	t.Helper()
	file, err := consent.ParseImport("customers.csv", []byte(data), "orders in our web shop", consent.OriginCustomers)
	if err != nil {
		return consent.ImportReport{}, err
	}
	if opts.Operator == "" {
		opts.Operator = "ops@example.com"
	}
	return f.svc.Import(context.Background(), file, opts)
}

func TestImportSoftOptInRecordsEvidence(t *testing.T) {
	f := newFixture(t)
	withCategories(t, f)
	var progress []int
	rep, err := importCSV(t, f, customersCSV, consent.ImportOptions{Progress: func(done, _ int) { progress = append(progress, done) }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 2 || rep.Imported != 2 || len(rep.Skipped) != 0 || len(progress) != 2 {
		t.Errorf("report %+v, progress %v: want 2 rows imported", rep, progress)
	}
	events := f.ledger(t, "bob@example.com")
	if len(events) != 1 {
		t.Fatalf("ledger: %d events, want 1 imported", len(events))
	}
	e := events[0]
	want := consent.ImportSource{File: "customers.csv", Digest: rep.Digest, Operator: "ops@example.com", Source: "orders in our web shop", Row: 3}
	if e.Type != consent.EventImported || e.Basis != consent.BasisSoftOptIn || e.Purpose != consenttest.SamplePurpose || e.Import != want ||
		e.SoftOptIn.SaleReference != "INV-1002" || e.Method != consent.MethodImport || e.Email != "bob@example.com" {
		t.Errorf("imported event: %+v", e)
	}
	// The same file again changes nothing.
	again, err := importCSV(t, f, customersCSV, consent.ImportOptions{})
	if err != nil || again.Imported != 0 || again.Unchanged != 2 {
		t.Errorf("re-import: %+v, %v; want 2 unchanged", again, err)
	}
	if d, err := f.svc.MayEmail(context.Background(), "ann@example.com", ""); err != nil || !d.Allowed || d.Basis != consent.BasisSoftOptIn || d.OptOutURL == "" {
		t.Errorf("may-email after import: %+v, %v", d, err)
	}
}

func TestImportRefusesWholeFileWithEveryReason(t *testing.T) {
	f := newFixture(t)
	withCategories(t, f)
	bad := customersCSV + `carol@example,,soft_opt_in,2026-03-01,INV-1003,compliance guides,unticked box
dan@example.com,,soft_opt_in,2026-03-01,INV-1004,garden furniture,unticked box
erin@example.com,,consent,,,,
fay@example.com,,corporate,,,,
gus@example.com,,soft_opt_in,2099-01-01,INV-1005,compliance guides,
ann@example.com,,soft_opt_in,2026-03-01,INV-1001,compliance guides,unticked box
`
	_, err := importCSV(t, f, bad, consent.ImportOptions{})
	var refused *consent.ImportError
	if !errors.As(err, &refused) {
		t.Fatalf("got %v, want *ImportError", err)
	}
	got := map[string]bool{}
	for _, p := range refused.Problems {
		got[p.String()[:strings.Index(p.String(), ":")+1]+p.Field] = true
	}
	for _, want := range []string{"row 4:email", "row 5:category", "row 6:basis", "row 7:organisation", "row 7:role", "row 7:company_number",
		"row 7:lia_reference", "row 8:sale_date", "row 8:opt_out_offered", "row 9:email"} {
		if !got[want] {
			t.Errorf("no problem %q in %v", want, refused.Problems)
		}
	}
	for _, address := range []string{"ann@example.com", "bob@example.com"} {
		if events := f.ledger(t, address); len(events) != 0 {
			t.Errorf("%s: %d events written by a refused file", address, len(events))
		}
	}
}

func TestImportRefusesBoughtListsAndMissingSource(t *testing.T) {
	f := newFixture(t)
	withCategories(t, f)
	for _, tt := range []struct{ source, origin, field string }{
		{"a list broker", consent.OriginPurchased, "origin"},
		{"a list broker", consent.OriginRented, "origin"},
		{"", consent.OriginCustomers, "source"},
		{"orders", "", "origin"},
	} {
		file, err := consent.ParseImport("customers.csv", []byte(customersCSV), tt.source, tt.origin)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.Import(context.Background(), file, consent.ImportOptions{Operator: "ops"})
		var refused *consent.ImportError
		if !errors.As(err, &refused) || refused.Problems[0].Field != tt.field || refused.Problems[0].Row != 0 {
			t.Errorf("source %q origin %q: got %v, want a file problem on %s", tt.source, tt.origin, err, tt.field)
		}
	}
}

func TestParseImport(t *testing.T) {
	json := `{"source": "orders", "origin": "customers", "contacts": [
	  {"email": "ann@example.com", "basis": "corporate", "organisation": "Acme Widgets Ltd", "company_number": "01234567",
	   "role": "Buyer", "lia_reference": "LIA-1", "purposes": ["marketing:example-ltd"]}]}`
	f, err := consent.ParseImport("/tmp/contacts.json", []byte(json), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "contacts.json" || f.Source != "orders" || f.Origin != "customers" || len(f.Rows) != 1 || f.Rows[0].Row != 1 || f.Rows[0].Purposes[0] != "marketing:example-ltd" || len(f.Digest) != 64 {
		t.Errorf("parsed %+v", f)
	}
	for name, tt := range map[string]struct{ file, data, source string }{
		"unknown JSON field":    {"c.json", `{"contacts": [{"email": "a@example.com", "basis": "corporate", "colour": "red"}]}`, ""},
		"source disagrees":      {"c.json", json, "something else"},
		"unknown CSV column":    {"c.csv", "email,basis,colour\na@example.com,corporate,red\n", ""},
		"no basis column":       {"c.csv", "email\na@example.com\n", ""},
		"no contacts":           {"c.csv", "email,basis\n", ""},
		"not UTF-8":             {"c.csv", "email,basis\n\xff@example.com,corporate\n", ""},
		"other file type":       {"c.xlsx", "email,basis\n", ""},
		"ragged CSV":            {"c.csv", "email,basis\na@example.com,corporate,extra\n", ""},
		"two JSON values":       {"c.json", `{"contacts": []} {}`, ""},
		"duplicate CSV columns": {"c.csv", "email,email,basis\n", ""},
	} {
		_, err := consent.ParseImport(tt.file, []byte(tt.data), tt.source, "")
		var refused *consent.ImportError
		if !errors.As(err, &refused) {
			t.Errorf("%s: got %v, want *ImportError", name, err)
		}
	}
	// A spreadsheet's byte-order mark is not part of the first column's name.
	if _, err := consent.ParseImport("c.csv", []byte("\uFEFFemail,basis\na@example.com,corporate\n"), "", ""); err != nil {
		t.Errorf("CSV with BOM: %v", err)
	}
}

// The opt-out link on an allowed answer works like an email's: a soft
// opt-in customer who uses it withdraws; a corporate contact who uses it
// objects, for good. Either way the person is on the suppression list.
func TestOptOutLinkOfImportedContacts(t *testing.T) {
	f := newFixture(t)
	withCategories(t, f)
	ctx := context.Background()
	corporate := "email,basis,organisation,company_number,role,lia_reference\ncara@acme.example,corporate,Acme Widgets Ltd,01234567,Buyer,LIA-1\n"
	file, err := consent.ParseImport("contacts.csv", []byte(corporate), "trade show leads we met", consent.OriginBusinessContacts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Import(ctx, file, consent.ImportOptions{Operator: "ops"}); err != nil {
		t.Fatal(err)
	}
	if _, err := importCSV(t, f, customersCSV, consent.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		address string
		left    consent.EventType
	}{{"cara@acme.example", consent.EventObjected}, {"ann@example.com", consent.EventWithdrawn}} {
		d, err := f.svc.MayEmail(ctx, tt.address, "")
		if err != nil || !d.Allowed {
			t.Fatalf("%s before opting out: %+v, %v", tt.address, d, err)
		}
		u, err := url.Parse(d.OptOutURL)
		if err != nil {
			t.Fatal(err)
		}
		target, err := f.svc.Withdraw(ctx, u.Query().Get("t"), consent.MethodOneClick, ev)
		if err != nil || !target.Direct || target.Purpose != consenttest.SamplePurpose {
			t.Fatalf("%s: withdraw by opt-out link: %+v, %v", tt.address, target, err)
		}
		events := f.ledger(t, tt.address)
		if last := events[len(events)-1]; last.Type != tt.left || last.Method != consent.MethodOneClick {
			t.Errorf("%s: last event %s by %s, want %s by one-click", tt.address, last.Type, last.Method, tt.left)
		}
		if d, _ := f.svc.MayEmail(ctx, tt.address, ""); d.Allowed {
			t.Errorf("%s after opting out: still allowed: %+v", tt.address, d)
		}
		// Using the link again writes nothing more.
		if _, err := f.svc.Withdraw(ctx, u.Query().Get("t"), consent.MethodOneClick, ev); err != nil || len(f.ledger(t, tt.address)) != len(events) {
			t.Errorf("%s: second use of the link wrote again (%v)", tt.address, err)
		}
	}
	list, err := f.svc.SuppressionList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var csv bytes.Buffer
	if err := consent.WriteSuppressionCSV(&csv, list); err != nil {
		t.Fatal(err)
	}
	want := "email,status,purpose,since,method\n" +
		"ann@example.com,withdrawn," + consenttest.SamplePurpose + "," + f.now.UTC().Format("2006-01-02T15:04:05Z") + ",one-click\n" +
		"cara@acme.example,objected,," + f.now.UTC().Format("2006-01-02T15:04:05Z") + ",one-click\n"
	if csv.String() != want {
		t.Errorf("suppression CSV:\n%s\nwant:\n%s", csv.String(), want)
	}
}

// Someone who withdrew and then opted in again is not on the suppression
// list; an erased person is not either (nothing of them is kept).
func TestSuppressionListLeavesOutReturnersAndErased(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, address := range []string{"ann@example.com", "bob@example.com"} {
		if err := f.svc.Signup(ctx, signupReq(address, true)); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Confirm(ctx, linkToken(t, f.mailer.Sent()[len(f.mailer.Sent())-1].Text, "/confirm"), ev); err != nil {
			t.Fatal(err)
		}
		tok := consenttest.UnsubscribeToken(f.svc, f.svc.Keys.Subject.SubscriberID(address), magnetID)
		if _, err := f.svc.Withdraw(ctx, tok, consent.MethodOneClick, ev); err != nil {
			t.Fatal(err)
		}
	}
	f.now = f.now.Add(consent.DedupeWindow * 2)
	if err := f.svc.Signup(ctx, signupReq("ann@example.com", true)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Confirm(ctx, linkToken(t, f.mailer.Sent()[len(f.mailer.Sent())-1].Text, "/confirm"), ev); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Erase(ctx, "bob@example.com", "asked by phone"); err != nil {
		t.Fatal(err)
	}
	list, err := f.svc.SuppressionList(ctx)
	if err != nil || len(list) != 0 {
		t.Errorf("suppression list: %+v, %v; want empty", list, err)
	}
}

func TestEraseKeepsOnlyATombstone(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.svc.Signup(ctx, signupReq("ann@example.com", true)); err != nil {
		t.Fatal(err)
	}
	first, err := f.svc.Erase(ctx, "Ann@Example.com", "erasure request by email")
	if err != nil {
		t.Fatal(err)
	}
	if first.Already || first.Erased.Events != 2 || first.Tombstone.ID == "" || first.Tombstone.ID == f.svc.Keys.Subject.SubscriberID("ann@example.com") {
		t.Errorf("first erasure: %+v", first)
	}
	if events := f.ledger(t, "ann@example.com"); len(events) != 0 {
		t.Errorf("%d events left after erasure", len(events))
	}
	f.now = f.now.Add(48 * consent.DedupeWindow)
	second, err := f.svc.Erase(ctx, "ann@example.com", "asked again")
	if err != nil || !second.Already || second.Tombstone != first.Tombstone || second.Erased != (consent.Erased{}) {
		t.Errorf("second erasure: %+v, %v; want the first tombstone and nothing removed", second, err)
	}
	for _, bad := range []struct{ address, reason string }{{"not-an-address", "x"}, {"ann@example.com", ""}, {"ann@example.com", "two\nlines"}} {
		var verr *consent.ValidationError
		if _, err := f.svc.Erase(ctx, bad.address, bad.reason); !errors.As(err, &verr) {
			t.Errorf("Erase(%q, %q): got %v, want *ValidationError", bad.address, bad.reason, err)
		}
	}
}

// A fresh sign-up straight after erasure — within the dedupe window of the
// erased one — is recorded: erasure removes the dedupe claims too.
func TestSignupRightAfterErasureStartsANewHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.svc.Signup(ctx, signupReq("ann@example.com", true)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Erase(ctx, "ann@example.com", "asked by letter"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Signup(ctx, signupReq("ann@example.com", true)); err != nil {
		t.Fatal(err)
	}
	if got := types(f.ledger(t, "ann@example.com")); got != "signup,granted" {
		t.Errorf("ledger after signing up again: %q, want a new history signup,granted", got)
	}
}
