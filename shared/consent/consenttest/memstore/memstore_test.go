package memstore_test

import (
	"testing"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/consent/consenttest/memstore"
	"github.com/unbundled/unbundled/shared/consent/storetest"
)

// The in-memory store is trusted in unit tests only because it passes the
// same suite as the SQLite and DynamoDB stores.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) consent.Store { return memstore.New() })
}
