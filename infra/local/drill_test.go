package main_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/unbundled/unbundled/infra/testkit/awssetup"
	"github.com/unbundled/unbundled/infra/testkit/emulators"
	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// TestICOInquiryDrill is what an owner does when the regulator asks about
// one person, through the operator's command, on each store: sign-up and
// confirmation on the local server → `proof` quotes the exact wording and
// privacy notice → `export` → `erase` → an import of the address is
// refused → a fresh sign-up is accepted and starts a new history. On
// DynamoDB (moto) the server and the command both use the "stack's" keys
// from Secrets Manager, as against a deployed stack.
func TestICOInquiryDrill(t *testing.T) {
	for _, store := range []string{"sqlite", "dynamodb"} {
		t.Run(store, func(t *testing.T) {
			dataDir := t.TempDir()
			storeFlags := []string{"-data", dataDir, "-magnets", "magnets.json"}
			if store == "dynamodb" {
				storeFlags = append(storeFlags, drillDynamoDB(t)...)
			}
			s := start(t, dataDir, storeFlags[2:]...)
			run := func(args ...string) string {
				t.Helper()
				return cli(t, append(append(args[:1:1], storeFlags...), append([]string{"-base-url", s.base}, args[1:]...)...)...)
			}
			m := drillMagnet(t)
			const ann = "ann.drill@example.com"

			resp, _ := s.do(t, "POST", "/signup", formType, "email=ann.drill%40example.com&name=Quentin&magnet="+m.ID+"&marketing_consent=yes")
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-up: %d", resp.StatusCode)
			}
			confirm := linkPath(t, s, lastMailTo(t, s, ann).Text, "/confirm")
			if resp, _ := s.do(t, "POST", confirm, formType, "confirm=yes"); resp.StatusCode != http.StatusOK {
				t.Fatalf("confirm: %d", resp.StatusCode)
			}

			var proof consent.Proof
			if err := json.Unmarshal([]byte(run("proof", "-json", ann)), &proof); err != nil {
				t.Fatal(err)
			}
			if got := drillTypes(proof.Events); got != "signup,granted,confirmed" {
				t.Errorf("proof events: %s, want signup,granted,confirmed", got)
			}
			var wording, notice bool
			for _, text := range proof.Texts {
				wording = wording || text.Kind == consent.TextWording && text.Text == m.ConsentWording && text.From == consent.TextFromArchive
				notice = notice || text.Kind == consent.TextNotice && strings.Contains(text.Text, "Information Commissioner") && text.From == consent.TextFromArchive
			}
			if !wording || !notice {
				t.Errorf("proof quotes the exact wording from the archive: %v, the privacy notice: %v\n%+v", wording, notice, proof.Texts)
			}
			if page := run("proof", "-html", ann); !strings.Contains(page, "<html") || !strings.Contains(page, "Quentin") {
				t.Errorf("proof -html is not a page naming the person")
			}

			var export consent.Export
			if err := json.Unmarshal([]byte(run("export", ann)), &export); err != nil {
				t.Fatal(err)
			}
			if len(export.Events) != 3 || export.Email != ann || len(export.Deliveries) == 0 {
				t.Errorf("export: %d events, email %q, %d deliveries", len(export.Events), export.Email, len(export.Deliveries))
			}

			if out := run("erase", "-reason", "ICO drill: erasure request by letter", ann); !strings.Contains(out, "erased") {
				t.Errorf("erase: %s", out)
			}
			if d := mayEmailJSON(t, run("may-email", "-json", ann)); d.Allowed || !strings.HasPrefix(d.Reason, "erased ") {
				t.Errorf("may-email after erasure: %+v", d)
			}

			file := filepath.Join(t.TempDir(), "contacts.csv")
			csv := "email,basis,organisation,company_number,role,lia_reference\n" + ann + ",corporate,Drill Widgets Ltd,01234567,Buyer,LIA-1\n"
			if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
				t.Fatal(err)
			}
			var rep consent.ImportReport
			if err := json.Unmarshal([]byte(run("import", "-json", "-source", "trade show", "-origin", "business_contacts", file)), &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Imported != 0 || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0].Reason, "erased") {
				t.Errorf("import of an erased address: %+v, want it refused as erased", rep)
			}

			resp, _ = s.do(t, "POST", "/signup", formType, "email=ann.drill%40example.com&magnet="+m.ID+"&marketing_consent=yes")
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("fresh sign-up: %d", resp.StatusCode)
			}
			events := s.ledger(t, ann)
			if got := types(events); got != "signup,granted" {
				t.Errorf("history after the fresh sign-up: %s, want a new one: signup,granted", got)
			}
		})
	}
}

// drillDynamoDB starts moto, prepares the table and the stack's two secrets
// as setup-emulators does, and returns the flags that point the server and
// the command at them.
func drillDynamoDB(t *testing.T) []string {
	t.Helper()
	moto := emulators.StartMotoForTest(t)
	for k, v := range emulators.AWSEnv(moto.Endpoint, "") {
		t.Setenv(k, v)
	}
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.Endpoint)
	root, err := emulators.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	template, err := os.ReadFile(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	const table = "unbundled-drill"
	if err := awssetup.Prepare(t.Context(), cfg, awssetup.Options{
		Template: template, TableName: table,
		SigningKeysSecret: awssetup.LocalSigningKeysSecret, SubjectKeySecret: awssetup.LocalSubjectKeySecret,
	}); err != nil {
		t.Fatal(err)
	}
	return []string{"-store", "dynamodb", "-table", table,
		"-signing-keys-secret", awssetup.LocalSigningKeysSecret, "-subject-key-secret", awssetup.LocalSubjectKeySecret}
}

func drillMagnet(t *testing.T) magnet.Magnet {
	t.Helper()
	c, err := magnet.Load("magnets.json")
	if err != nil {
		t.Fatal(err)
	}
	return c.All()[0]
}

func drillTypes(events []consent.ProofEvent) string {
	var ts []string
	for _, e := range events {
		ts = append(ts, string(e.Event.Type))
	}
	return strings.Join(ts, ",")
}

func lastMailTo(t *testing.T, s *server, to string) mail {
	t.Helper()
	box := s.mailbox(t)
	for i := len(box) - 1; i >= 0; i-- {
		if slices.Contains(box[i].To, to) {
			return box[i]
		}
	}
	t.Fatalf("no mail to %s", to)
	return mail{}
}

func mayEmailJSON(t *testing.T, out string) consent.Decision {
	t.Helper()
	var d consent.Decision
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &d); err != nil {
		t.Fatalf("may-email -json: %v: %s", err, out)
	}
	return d
}
