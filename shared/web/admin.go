package web

import (
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/go-json-experiment/json"

	"github.com/unbundled/unbundled/shared/consent"
)

// maxDecisions caps one may-email batch (the 16 KiB body limit allows a
// few hundred addresses anyway).
const maxDecisions = 500

// Admin routes (paths under /admin/) answer the operator, not visitors. On
// AWS, API Gateway lets a request through only with IAM credentials
// allowed to invoke the route (template.yaml: Authorizer AWS_IAM), so the
// admin function's AdminAllowed says yes to what reaches it; the local
// server allows only its own machine (LoopbackOnly). Without AdminAllowed
// every admin request is refused: a secure default.

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
// "error" instead of a decision; the batch still answers 200. Only JSON is
// accepted, so a browser cannot send it cross-site without a preflight that
// no origin passes.
func (s *Server) mayEmail(w http.ResponseWriter, r *http.Request) {
	if s.AdminAllowed == nil || !s.AdminAllowed(r) {
		s.fail(w, r, errAdminRefused)
		return
	}
	if err := s.ownSource(r, "", ""); err != nil {
		s.fail(w, r, err)
		return
	}
	if !wantsJSON(r) {
		s.fail(w, r, invalid("body", `Send JSON: {"addresses": ["ann@example.com"], "purpose": "marketing:…"}.`))
		return
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in mayEmailRequest
	if err := json.Unmarshal(data, &in, json.RejectUnknownMembers(true)); err != nil {
		s.fail(w, r, invalid("body", `Send one JSON object: {"addresses": ["ann@example.com"], "purpose": "marketing:…"}.`))
		return
	}
	switch {
	case len(in.Addresses) == 0:
		s.fail(w, r, invalid("addresses", "Name at least one address."))
		return
	case len(in.Addresses) > maxDecisions:
		s.fail(w, r, invalid("addresses", "At most 500 addresses per request."))
		return
	}
	answers := make([]mayEmailAnswer, 0, len(in.Addresses))
	for _, address := range in.Addresses {
		d, err := s.Service.MayEmail(r.Context(), address, in.Purpose)
		var verr *consent.ValidationError
		switch {
		case errors.As(err, &verr) && verr.Fields["purpose"] != "":
			s.fail(w, r, err)
			return
		case errors.As(err, &verr):
			answers = append(answers, mayEmailAnswer{Address: address, Error: verr.Fields["email"]})
		case err != nil:
			s.fail(w, r, err)
			return
		default:
			answers = append(answers, mayEmailAnswer{Address: address, Decision: &d})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"decisions": answers})
}
