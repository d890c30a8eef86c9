package dynamostore_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/storetest"
	"github.com/unbundled/unbundled/shared/dynamostore"
)

// TestImportAttributes pins how an imported event's evidence is stored (the
// README's data model): basis and lia_reference as strings, import and
// soft_opt_in as maps, and none of them on an event that has none, so
// items written before they existed and items written since look alike.
func TestImportAttributes(t *testing.T) {
	ctx := context.Background()
	table := &pagedTable{pageSize: 100}
	s := dynamostore.New(table, "table")
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	plain := consent.Event{Subscriber: "s", Seq: 1, ID: "e1", Type: consent.EventSignup, At: at, Magnet: "m"}
	imported := consent.Event{Subscriber: "s", Seq: 2, ID: "e2", Type: consent.EventImported, At: at, Method: consent.MethodImport,
		Basis:        consent.BasisSoftOptIn,
		Import:       consent.ImportSource{File: "f.csv", Digest: "d", Operator: "o", Source: "shop", Row: 2},
		SoftOptIn:    consent.SoftOptIn{SaleDate: "2025-01-01", SaleReference: "r", Category: "c", OptOutOffered: "box"},
		LIAReference: "lia",
	}
	for _, e := range []consent.Event{plain, imported} {
		if err := storetest.Append(ctx, s, e); err != nil {
			t.Fatal(err)
		}
	}
	if len(table.items) != 2 {
		t.Fatalf("got %d items, want 2", len(table.items))
	}

	for _, name := range []string{"basis", "import", "soft_opt_in", "lia_reference"} {
		if _, ok := table.items[0][name]; ok {
			t.Errorf("event without import evidence: attribute %q present, want it absent", name)
		}
	}
	item := table.items[1]
	for name, want := range map[string]string{"basis": "soft_opt_in", "lia_reference": "lia"} {
		if got, ok := item[name].(*types.AttributeValueMemberS); !ok || got.Value != want {
			t.Errorf("attribute %q: got %#v, want string %q", name, item[name], want)
		}
	}
	for name, want := range map[string][]string{
		"import":      {"digest", "file", "operator", "row", "source"},
		"soft_opt_in": {"category", "opt_out_offered", "sale_date", "sale_reference"},
	} {
		m, ok := item[name].(*types.AttributeValueMemberM)
		if !ok {
			t.Errorf("attribute %q: got %#v, want a map", name, item[name])
			continue
		}
		if got := slices.Sorted(maps.Keys(m.Value)); !slices.Equal(got, want) {
			t.Errorf("attribute %q: got keys %v, want %v", name, got, want)
		}
	}

	ledger, err := s.Events(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ledger, []consent.Event{plain, imported}) {
		t.Errorf("Events: got %+v, want the two events back", ledger)
	}
}
