package consent

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// Origins say where an import's contacts came from. Only the business's own
// customers and business contacts may be imported: PECR needs consent given
// to the sender itself, so bought or rented lists are refused whatever
// they claim.
const (
	// OriginCustomers: people who bought from the business, or were in
	// negotiations to buy (the soft opt-in's first condition).
	OriginCustomers = "customers"
	// OriginBusinessContacts: people at companies the business deals with,
	// collected by the business itself (a corporate basis).
	OriginBusinessContacts = "business_contacts"
	// OriginPurchased and OriginRented are refused.
	OriginPurchased = "purchased"
	OriginRented    = "rented"
)

// MaxImportRows and MaxImportBytes bound one import file.
const (
	MaxImportRows  = 50_000
	MaxImportBytes = 20 << 20
)

// ImportFile is an operator's file of existing contacts, parsed but not yet
// validated (Service.Import validates every row before writing any).
type ImportFile struct {
	// Name is the file's base name and Digest its SHA-256 (hex): every
	// imported event cites both.
	Name   string
	Digest string
	// Source says, in the operator's words, where the contacts came from
	// ("orders in our web shop, 2024-2026"); Origin is one of the Origin
	// constants. Both are required.
	Source string
	Origin string
	Rows   []ImportRow
}

// ImportRow is one contact. Row is its position for messages: the line
// number in a CSV file (the header is line 1), the 1-based index in JSON.
type ImportRow struct {
	Row   int    `json:"-"`
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
	// Basis is "soft_opt_in" or "corporate".
	Basis Basis `json:"basis"`
	// Purposes are purpose ids. Empty means, for a soft opt-in, every
	// configured purpose whose product categories include Category; for a
	// corporate contact, the configuration's one controller-wide purpose.
	Purposes []string `json:"purposes,omitempty"`
	// Soft opt-in evidence.
	SaleDate      string `json:"sale_date,omitempty"`
	SaleReference string `json:"sale_reference,omitempty"`
	Category      string `json:"category,omitempty"`
	OptOutOffered string `json:"opt_out_offered,omitempty"`
	// Corporate evidence: the organisation, its Companies House number
	// (not needed for a public body: OrganisationKind "public_body"), the
	// person's role and the legitimate-interests assessment reference.
	Organisation     string `json:"organisation,omitempty"`
	CompanyNumber    string `json:"company_number,omitempty"`
	OrganisationKind string `json:"organisation_kind,omitempty"`
	Role             string `json:"role,omitempty"`
	LIAReference     string `json:"lia_reference,omitempty"`
}

// ImportColumns are the CSV header names (and JSON member names), in the
// order the README lists them. email and basis are required; the others
// may be left out.
var ImportColumns = []string{"email", "name", "basis", "purposes", "sale_date", "sale_reference", "category",
	"opt_out_offered", "organisation", "company_number", "organisation_kind", "role", "lia_reference"}

// ImportProblem is one reason a file is refused: Row 0 is the file itself.
type ImportProblem struct {
	Row     int    `json:"row"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// ImportError refuses a whole file: nothing was written.
type ImportError struct {
	Problems []ImportProblem
}

func (e *ImportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "import refused, nothing written: %d problem(s)", len(e.Problems))
	for i, p := range e.Problems {
		if i == 20 {
			fmt.Fprintf(&b, "; … and %d more", len(e.Problems)-i)
			break
		}
		b.WriteString("; ")
		b.WriteString(p.String())
	}
	return b.String()
}

// String says the problem for an operator: "row 3: sale_date: …".
func (p ImportProblem) String() string {
	where := "file"
	if p.Row > 0 {
		where = fmt.Sprintf("row %d", p.Row)
	}
	if p.Field != "" {
		where += ": " + p.Field
	}
	return where + ": " + p.Message
}

func refuse(row int, field, format string, args ...any) *ImportError {
	return &ImportError{Problems: []ImportProblem{{Row: row, Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// ParseImport reads an import file, CSV or JSON by its name's extension.
// Source and origin come from the operator (command flags, endpoint
// parameters); a JSON file may carry its own "source" and "origin", which
// must then agree. Every failure is an *ImportError.
//
// CSV: a header row naming columns from ImportColumns (any order; email and
// basis required), then one contact per row; purposes are separated by
// spaces. JSON: {"source": …, "origin": …, "contacts": [{…}, …]} with the
// same names, unknown fields refused.
func ParseImport(name string, data []byte, source, origin string) (ImportFile, error) {
	sum := sha256.Sum256(data)
	f := ImportFile{Name: filepath.Base(name), Digest: hex.EncodeToString(sum[:]), Source: strings.TrimSpace(source), Origin: strings.TrimSpace(origin)}
	if len(data) > MaxImportBytes {
		return f, refuse(0, "", "the file is %d bytes; split it into files of at most %d MB", len(data), MaxImportBytes>>20)
	}
	if !utf8.Valid(data) {
		return f, refuse(0, "", "the file is not UTF-8 text; save it as UTF-8 (CSV UTF-8 in spreadsheet programs)")
	}
	var err error
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case ".csv":
		f.Rows, err = parseImportCSV(data)
	case ".json":
		err = parseImportJSON(data, &f)
	default:
		return f, refuse(0, "", "the file name must end in .csv or .json (got %q)", ext)
	}
	if err != nil {
		return f, err
	}
	if len(f.Rows) == 0 {
		return f, refuse(0, "", "the file has no contacts")
	}
	if len(f.Rows) > MaxImportRows {
		return f, refuse(0, "", "the file has %d contacts; split it into files of at most %d", len(f.Rows), MaxImportRows)
	}
	return f, nil
}

func parseImportCSV(data []byte) ([]ImportRow, error) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\uFEFF"))))
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return nil, refuse(0, "", "read the CSV header: %v", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if !slices.Contains(ImportColumns, h) {
			return nil, refuse(1, "", "unknown column %q; the columns are %s", h, strings.Join(ImportColumns, ", "))
		}
		if _, dup := col[h]; dup {
			return nil, refuse(1, "", "column %q appears twice", h)
		}
		col[h] = i
	}
	for _, required := range []string{"email", "basis"} {
		if _, ok := col[required]; !ok {
			return nil, refuse(1, "", "the header has no %q column", required)
		}
	}
	var rows []ImportRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			return nil, refuse(line, "", "%v", err)
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		rows = append(rows, ImportRow{
			Row: line, Email: get("email"), Name: get("name"), Basis: Basis(get("basis")), Purposes: strings.Fields(get("purposes")),
			SaleDate: get("sale_date"), SaleReference: get("sale_reference"), Category: get("category"), OptOutOffered: get("opt_out_offered"),
			Organisation: get("organisation"), CompanyNumber: get("company_number"), OrganisationKind: get("organisation_kind"),
			Role: get("role"), LIAReference: get("lia_reference"),
		})
	}
}

func parseImportJSON(data []byte, f *ImportFile) error {
	var doc struct {
		Source   string      `json:"source"`
		Origin   string      `json:"origin"`
		Contacts []ImportRow `json:"contacts"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return refuse(0, "", "read the JSON: %v", err)
	}
	if dec.More() {
		return refuse(0, "", "the JSON has more than one value")
	}
	for name, pair := range map[string][2]*string{"source": {&f.Source, &doc.Source}, "origin": {&f.Origin, &doc.Origin}} {
		given, inFile := pair[0], strings.TrimSpace(*pair[1])
		switch {
		case inFile == "":
		case *given == "":
			*given = inFile
		case *given != inFile:
			return refuse(0, name, "the file says %q but you gave %q; give one", inFile, *given)
		}
	}
	for i := range doc.Contacts {
		doc.Contacts[i].Row = i + 1
	}
	f.Rows = doc.Contacts
	return nil
}
