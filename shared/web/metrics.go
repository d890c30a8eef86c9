package web

import (
	"errors"
	"net/http"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/magnet"
)

// countRateLimited reports a sign-up post for m refused with err to the
// dashboard's metrics (consent.Counts.RateLimited) if err is the 429 of a
// source over its limit; other errors count nothing. Trapped posts are
// counted by logTrapped. Both name the magnet as the logs do (magnetLabel),
// so a bot cannot invent metric dimensions.
func (s *Server) countRateLimited(r *http.Request, err error, m magnet.Magnet, known bool) {
	if limited := (*consent.RateLimitError)(nil); errors.As(err, &limited) {
		s.Service.RecordCounts(r.Context(), magnetLabel(m, known), consent.Counts{RateLimited: 1})
	}
}
