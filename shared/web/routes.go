// Package web holds the public HTTP endpoints as plain http.Handlers. The same
// handlers run on Lambda (through the API Gateway adapter in lambdahttp) and
// in the local server. Every route is declared once, in routes; tests check
// it against template.yaml and README.md.
package web

import (
	"net/http"
	"slices"
	"strings"
)

// Route is one public endpoint and the Lambda function (template.yaml logical
// id) that serves it.
type Route struct {
	Method   string
	Path     string
	Function string

	serve func(*Server, http.ResponseWriter, *http.Request)
}

// Function logical ids in template.yaml.
const (
	SignupFunction      = "SignupFunction"
	UnsubscribeFunction = "UnsubscribeFunction"
	ConfirmFunction     = "ConfirmFunction"
	AdminFunction       = "AdminFunction"
)

// routes is the one route table: method, path, function and handler. Keep
// template.yaml and README.md's Endpoints table in step; the route tests fail
// if they differ.
var routes = []Route{
	{"POST", "/signup", SignupFunction, (*Server).signup},
	{"OPTIONS", "/signup", SignupFunction, (*Server).signupPreflight},
	{"GET", "/thanks", SignupFunction, (*Server).thanks},
	{"GET", "/notice", SignupFunction, (*Server).notice},
	// The form snippet, and with ".js" its script (one pattern: a wildcard
	// is a whole path segment).
	{"GET", "/forms/{magnet}", SignupFunction, (*Server).forms},
	{"GET", "/unsubscribe", UnsubscribeFunction, (*Server).unsubscribePage},
	{"HEAD", "/unsubscribe", UnsubscribeFunction, (*Server).unsubscribePage},
	{"POST", "/unsubscribe", UnsubscribeFunction, (*Server).unsubscribe},
	{"OPTIONS", "/unsubscribe", UnsubscribeFunction, (*Server).linkOptions},
	{"GET", "/withdraw", UnsubscribeFunction, (*Server).withdrawPage},
	{"POST", "/withdraw", UnsubscribeFunction, (*Server).withdrawRequest},
	{"GET", "/privacy", UnsubscribeFunction, (*Server).privacyPage},
	{"POST", "/privacy", UnsubscribeFunction, (*Server).privacyRequest},
	{"GET", "/privacy/confirm", UnsubscribeFunction, (*Server).privacyLinkPage},
	{"POST", "/privacy/confirm", UnsubscribeFunction, (*Server).privacyAct},
	{"GET", "/confirm", ConfirmFunction, (*Server).confirmPage},
	{"HEAD", "/confirm", ConfirmFunction, (*Server).confirmPage},
	{"POST", "/confirm", ConfirmFunction, (*Server).confirm},
	{"OPTIONS", "/confirm", ConfirmFunction, (*Server).linkOptions},
	{"POST", "/confirm/resend", ConfirmFunction, (*Server).confirmResend},
	{"POST", "/admin/may-email", AdminFunction, (*Server).mayEmail},
	{"POST", importPath, AdminFunction, (*Server).importFile},
	{"POST", "/admin/object", AdminFunction, (*Server).object},
	{"POST", "/admin/erase", AdminFunction, (*Server).erase},
	{"GET", "/admin/suppression", AdminFunction, (*Server).suppressionList},
	{"POST", "/admin/suppression", AdminFunction, (*Server).suppressionChange},
	{"POST", "/admin/proof", AdminFunction, (*Server).proof},
	{"POST", "/admin/export", AdminFunction, (*Server).export},
	{"POST", "/admin/rectify", AdminFunction, (*Server).rectify},
	{"GET", "/admin/audit", AdminFunction, (*Server).audit},
	{"GET", "/admin/jobs", AdminFunction, (*Server).jobs},
	{"POST", "/admin/jobs/retry", AdminFunction, (*Server).retryJobs},
	{"GET", "/admin/records", AdminFunction, (*Server).records},
	{"POST", "/admin/retention", AdminFunction, (*Server).applyRetention},
}

// Admin reports whether the route answers the operator: on AWS it is
// IAM-authorised (template.yaml), on the local server loopback-only.
func (r Route) Admin() bool { return strings.HasPrefix(r.Path, "/admin/") }

// Routes returns every public route, in declaration order. The slice is a
// copy: changing it changes nothing served.
func Routes() []Route {
	return slices.Clone(routes)
}

// Handler returns the routes served by one Lambda function, or every public
// route when function is "", wrapped in Middleware. It panics if function
// serves no route, so a misspelt function id fails at start-up rather than
// answering every request with 404.
func (s *Server) Handler(function string) http.Handler {
	mux := http.NewServeMux()
	var paths []string
	for _, rt := range routes {
		if function != "" && rt.Function != function {
			continue
		}
		mux.HandleFunc(rt.Method+" "+rt.Path, func(w http.ResponseWriter, r *http.Request) {
			rt.serve(s, w, r)
		})
		paths = append(paths, rt.Path)
	}
	if len(paths) == 0 {
		panic("web: no routes for function " + function)
	}
	return s.Middleware(s.orNotFound(mux, paths))
}
