package consent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ImportOptions say who runs an import and whether to write.
type ImportOptions struct {
	// Operator names who ran it (a login, an IAM principal); required, and
	// recorded on every imported event.
	Operator string
	// DryRun validates and reports what would happen without writing.
	DryRun bool
	// Progress, if set, is called after each row is done.
	Progress func(done, total int)
}

// ImportReport says what an import did, row by row where it matters.
type ImportReport struct {
	File     string `json:"file"`
	Digest   string `json:"digest"`
	Source   string `json:"source"`
	Origin   string `json:"origin"`
	Operator string `json:"operator"`
	DryRun   bool   `json:"dry_run"`
	Rows     int    `json:"rows"`
	// Imported counts rows that recorded (or, in a dry run, would record)
	// a basis; Unchanged rows this file had already imported.
	Imported  int `json:"imported"`
	Unchanged int `json:"unchanged"`
	// Skipped lists rows never re-added: the person withdrew, objected,
	// bounced, complained or was erased.
	Skipped []ImportSkip `json:"skipped"`
}

// ImportSkip is a row not imported, and why.
type ImportSkip struct {
	Row    int    `json:"row"`
	Email  string `json:"email"`
	Reason string `json:"reason"`
}

// MaxEvidenceLength caps each free-text evidence field, in bytes.
const MaxEvidenceLength = 200

// validRow is a row checked and resolved: canonical address and the events'
// content.
type validRow struct {
	row      ImportRow
	email    string
	name     string
	purposes []string
	event    Event // Basis and evidence; no subscriber, purpose or time yet
}

// Import records existing contacts from an operator's file, each with the
// basis its row claims and the evidence for it. Every row is validated
// first — address, basis, evidence, purposes — and if any row fails, the
// whole file is refused (an *ImportError with every problem) and nothing is
// written. A declared source is required and bought or rented lists are
// refused.
//
// People who withdrew from a purpose, objected, bounced, complained or were
// erased are never re-added: their rows are skipped and reported, and
// nothing is written for them. Each other row becomes one `imported` event
// per purpose, citing the file (name, digest), the operator and the
// declared source. Importing the same file again changes nothing; if a
// write fails part-way, running the file again completes it.
func (s *Service) Import(ctx context.Context, f ImportFile, opts ImportOptions) (ImportReport, error) {
	rep := ImportReport{File: f.Name, Digest: f.Digest, Source: f.Source, Origin: f.Origin, Operator: strings.TrimSpace(opts.Operator), DryRun: opts.DryRun, Rows: len(f.Rows)}
	rows, err := s.validateImport(f, rep.Operator)
	if err != nil {
		return rep, err
	}
	source := ImportSource{File: f.Name, Digest: f.Digest, Operator: rep.Operator, Source: f.Source}
	for i, v := range rows {
		outcome, reason, err := s.importRow(ctx, v, source, opts.DryRun)
		if err != nil {
			return rep, fmt.Errorf("import row %d (%d of %d written before it): %w", v.row.Row, rep.Imported, len(rows), err)
		}
		switch outcome {
		case rowImported:
			rep.Imported++
		case rowUnchanged:
			rep.Unchanged++
		case rowSkipped:
			rep.Skipped = append(rep.Skipped, ImportSkip{Row: v.row.Row, Email: v.email, Reason: reason})
		}
		if opts.Progress != nil {
			opts.Progress(i+1, len(rows))
		}
	}
	return rep, nil
}

type rowOutcome int

const (
	rowImported rowOutcome = iota
	rowUnchanged
	rowSkipped
)

// importRow writes one validated row unless the person left.
func (s *Service) importRow(ctx context.Context, v validRow, source ImportSource, dryRun bool) (rowOutcome, string, error) {
	if t, erased, err := s.tombstone(ctx, v.email); err != nil {
		return 0, "", err
	} else if erased {
		return rowSkipped, fmt.Sprintf("erased %s: never re-added", t.At.UTC().Format("2006-01-02")), nil
	}
	subscriber := s.Keys.Subject.SubscriberID(v.email)
	outcome, reason := rowUnchanged, ""
	err := s.commitAfterLedger(ctx, subscriber, withdrawRetry, func(ledger []Event) (Write, error) {
		if why, left := hasLeft(ledger, v.purposes); left {
			outcome, reason = rowSkipped, why
			return Write{}, nil
		}
		now := s.Now().UTC()
		var w Write
		for _, p := range v.purposes {
			if alreadyImported(ledger, p, source.Digest) {
				continue
			}
			e := v.event
			e.Subscriber, e.ID, e.Type, e.At, e.Purpose, e.Email, e.Name, e.Method = subscriber, NewEventID(now), EventImported, now, p, v.email, v.name, MethodImport
			e.Import = source
			e.Import.Row = v.row.Row
			w.Events = append(w.Events, e)
		}
		outcome, reason = rowUnchanged, ""
		if len(w.Events) > 0 {
			outcome = rowImported
		}
		if dryRun {
			return Write{}, nil
		}
		return w, nil
	})
	if err != nil {
		return 0, "", err
	}
	return outcome, reason, nil
}

// hasLeft says whether the person's ledger rules out importing them for
// purposes: suppressed, objected, or withdrawn from one of them (or from
// its controller's marketing) at any time.
func hasLeft(ledger []Event, purposes []string) (string, bool) {
	if bad, _ := Suppressed(ledger); bad {
		e := lastOf(ledger, "", EventSuppressed)
		return fmt.Sprintf("suppressed %s after %s: never re-added", day(e), methodWords(e.Method)), true
	}
	for _, e := range ledger {
		if e.Type == EventObjected {
			return fmt.Sprintf("objected %s: never re-added", day(e)), true
		}
	}
	for _, p := range purposes {
		if w, withdrew := withdrawalFrom(ledger, p); withdrew {
			return fmt.Sprintf("withdrew from %s on %s by %s: never re-added", p, day(w), methodWords(w.Method)), true
		}
	}
	return "", false
}

func alreadyImported(ledger []Event, purpose, digest string) bool {
	return slices.ContainsFunc(ledger, func(e Event) bool {
		return e.Type == EventImported && e.Purpose == purpose && e.Import.Digest == digest
	})
}

// validateImport checks the whole file and every row, and returns the rows
// resolved, or an *ImportError listing every problem.
func (s *Service) validateImport(f ImportFile, operator string) ([]validRow, error) {
	var problems []ImportProblem
	fileProblem := func(field, format string, args ...any) {
		problems = append(problems, ImportProblem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case f.Source == "":
		fileProblem("source", "say where these contacts came from, e.g. \"orders in our web shop, 2024-2026\"")
	case len(f.Source) > MaxEvidenceLength || hasControlChar(f.Source):
		fileProblem("source", "must be one line of at most %d bytes", MaxEvidenceLength)
	}
	switch f.Origin {
	case OriginCustomers, OriginBusinessContacts:
	case OriginPurchased, OriginRented:
		fileProblem("origin", "bought or rented lists cannot be imported: marketing email needs consent given to you, or a soft opt-in or business relationship of your own")
	case "":
		fileProblem("origin", "say how you got these contacts: %s or %s", OriginCustomers, OriginBusinessContacts)
	default:
		fileProblem("origin", "must be %s or %s (got %q)", OriginCustomers, OriginBusinessContacts, f.Origin)
	}
	if operator == "" || len(operator) > MaxEvidenceLength || hasControlChar(operator) {
		fileProblem("operator", "name who runs the import (one line of at most %d bytes)", MaxEvidenceLength)
	}
	type seenKey struct{ email, purpose string }
	seen := map[seenKey]int{}
	var rows []validRow
	for _, r := range f.Rows {
		v, rowProblems := s.validateRow(r)
		for _, p := range v.purposes {
			k := seenKey{v.email, p}
			if first, dup := seen[k]; dup && v.email != "" {
				rowProblems = append(rowProblems, ImportProblem{Row: r.Row, Field: "email", Message: fmt.Sprintf("the same address and purpose as row %d", first)})
			} else {
				seen[k] = r.Row
			}
		}
		problems = append(problems, rowProblems...)
		rows = append(rows, v)
	}
	if len(problems) > 0 {
		return nil, &ImportError{Problems: problems}
	}
	return rows, nil
}

// validateRow checks one row.
func (s *Service) validateRow(r ImportRow) (validRow, []ImportProblem) {
	var problems []ImportProblem
	fail := func(field, format string, args ...any) {
		problems = append(problems, ImportProblem{Row: r.Row, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	v := validRow{row: r}
	var err error
	if v.email, err = NormaliseAddress(r.Email); err != nil {
		fail("email", "not a valid email address")
	}
	if v.name, err = CheckName(r.Name); err != nil {
		fail("name", "%s", nameProblem(err))
	}
	text := func(field, value string) string {
		value = strings.TrimSpace(value)
		switch {
		case value == "":
			fail(field, "is required for basis %s", r.Basis)
		case len(value) > MaxEvidenceLength || hasControlChar(value):
			fail(field, "must be one line of at most %d bytes", MaxEvidenceLength)
		}
		return value
	}
	switch r.Basis {
	case BasisSoftOptIn:
		so := SoftOptIn{SaleDate: text("sale_date", r.SaleDate), SaleReference: text("sale_reference", r.SaleReference),
			Category: text("category", r.Category), OptOutOffered: text("opt_out_offered", r.OptOutOffered)}
		if so.SaleDate != "" {
			if d, err := time.Parse(time.DateOnly, so.SaleDate); err != nil {
				fail("sale_date", "must be a date like 2026-03-01")
			} else if d.After(s.Now()) {
				fail("sale_date", "is in the future")
			}
		}
		v.event = Event{Basis: BasisSoftOptIn, SoftOptIn: so}
		v.purposes = s.softOptInPurposes(r, so.Category, fail)
		if len(r.Organisation)+len(r.CompanyNumber)+len(r.Role)+len(r.LIAReference) > 0 {
			fail("organisation", "organisation, company_number, role and lia_reference belong to basis corporate")
		}
	case BasisCorporate:
		org := Organisation{Kind: OrgRegistered}
		if r.OrganisationKind == OrgPublicBody {
			org.Kind = OrgPublicBody
		} else if r.OrganisationKind != "" && r.OrganisationKind != OrgRegistered {
			fail("organisation_kind", "must be %s or %s", OrgRegistered, OrgPublicBody)
		}
		var problem string
		if org.Name, problem = CheckOrganisationName(r.Organisation); problem != "" {
			fail("organisation", "%s", problem)
		} else if org.Name == "" {
			fail("organisation", "is required for basis corporate: the registered company, LLP or public body")
		}
		if org.Role, problem = CheckRole(r.Role); problem != "" {
			fail("role", "%s", problem)
		} else if org.Role == "" {
			fail("role", "is required for basis corporate: marketing must be relevant to the person's role")
		}
		switch number, ok := CompanyNumber(r.CompanyNumber); {
		case strings.TrimSpace(r.CompanyNumber) == "" && org.Kind == OrgPublicBody:
		case strings.TrimSpace(r.CompanyNumber) == "":
			fail("company_number", "is required for a registered company or LLP (a public body: set organisation_kind to %s)", OrgPublicBody)
		case !ok:
			fail("company_number", "is not a Companies House number: 8 characters, like 01234567 or SC123456")
		default:
			org.Number = number
		}
		v.event = Event{Basis: BasisCorporate, Organisation: org, LIAReference: text("lia_reference", r.LIAReference)}
		v.purposes = s.corporatePurposes(r, fail)
		if len(r.SaleDate)+len(r.SaleReference)+len(r.Category)+len(r.OptOutOffered) > 0 {
			fail("sale_date", "sale_date, sale_reference, category and opt_out_offered belong to basis soft_opt_in")
		}
	case BasisConsent:
		fail("basis", "consent cannot be imported: it counts only as recorded when given on a form (with the wording shown); import customers as soft_opt_in or company contacts as corporate")
	case "":
		fail("basis", "is required: soft_opt_in or corporate")
	default:
		fail("basis", "must be soft_opt_in or corporate (got %q)", r.Basis)
	}
	return v, problems
}

// softOptInPurposes resolves a soft opt-in row's purposes: those named,
// each of which must declare the row's category among its products; or,
// with none named, every configured purpose that does.
func (s *Service) softOptInPurposes(r ImportRow, category string, fail func(field, format string, args ...any)) []string {
	if category == "" {
		return nil
	}
	if len(r.Purposes) > 0 {
		for _, id := range r.Purposes {
			p, ok := s.Catalog.Purpose(id)
			switch {
			case !ok:
				fail("purposes", "%q is not a configured purpose (%s)", id, strings.Join(s.purposeIDs(), ", "))
			case !containsFold(p.Categories, category):
				fail("category", "%q is not among the product categories of %s (%s): a soft opt-in covers similar products and services only", category, id, categoriesText(p.Categories))
			}
		}
		return r.Purposes
	}
	var ids []string
	for _, p := range s.Catalog.Purposes() {
		if containsFold(p.Categories, category) {
			ids = append(ids, p.ID)
		}
	}
	if len(ids) == 0 {
		fail("category", "%q is not a product category of any configured purpose; declare it in a magnet's product_categories first", category)
	}
	return ids
}

// corporatePurposes resolves a corporate row's purposes: those named, or
// the configuration's one controller-wide purpose.
func (s *Service) corporatePurposes(r ImportRow, fail func(field, format string, args ...any)) []string {
	if len(r.Purposes) == 0 {
		controllers := s.ControllerPurposes()
		if len(controllers) != 1 {
			fail("purposes", "name the purposes relevant to this person's role: the configuration has %d controllers", len(controllers))
			return nil
		}
		return controllers
	}
	for _, id := range r.Purposes {
		if _, ok := s.Catalog.Purpose(id); !ok {
			fail("purposes", "%q is not a configured purpose (%s)", id, strings.Join(s.purposeIDs(), ", "))
		}
	}
	return r.Purposes
}

func (s *Service) purposeIDs() []string {
	var ids []string
	for _, p := range s.Catalog.Purposes() {
		ids = append(ids, p.ID)
	}
	return ids
}

func categoriesText(c []string) string {
	if len(c) == 0 {
		return "none declared"
	}
	return strings.Join(c, ", ")
}

func nameProblem(err error) string {
	var bad *NameError
	if errors.As(err, &bad) {
		return bad.Message
	}
	return ErrNameChars.Message
}

func hasControlChar(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
