// Package web holds the public HTTP endpoints as plain http.Handlers. The same
// handlers run on Lambda (through the API Gateway adapter in lambdahttp) and
// in the local server; Routes is the one route table both are built from, and
// a test checks it against template.yaml.
package web

// Route is one public endpoint and the Lambda function (template.yaml logical
// id) that serves it.
type Route struct {
	Method   string
	Path     string
	Function string
}

// Function logical ids in template.yaml.
const (
	SignupFunction      = "SignupFunction"
	UnsubscribeFunction = "UnsubscribeFunction"
	ConfirmFunction     = "ConfirmFunction"
)

// Routes is every public route. Keep template.yaml in step: the route test
// fails if they differ.
var Routes = []Route{
	{Method: "POST", Path: "/signup", Function: SignupFunction},
	{Method: "OPTIONS", Path: "/signup", Function: SignupFunction},
	{Method: "GET", Path: "/thanks", Function: SignupFunction},
	{Method: "GET", Path: "/unsubscribe", Function: UnsubscribeFunction},
	{Method: "HEAD", Path: "/unsubscribe", Function: UnsubscribeFunction},
	{Method: "POST", Path: "/unsubscribe", Function: UnsubscribeFunction},
	{Method: "OPTIONS", Path: "/unsubscribe", Function: UnsubscribeFunction},
	{Method: "GET", Path: "/withdraw", Function: UnsubscribeFunction},
	{Method: "POST", Path: "/withdraw", Function: UnsubscribeFunction},
	{Method: "GET", Path: "/confirm", Function: ConfirmFunction},
	{Method: "HEAD", Path: "/confirm", Function: ConfirmFunction},
	{Method: "POST", Path: "/confirm", Function: ConfirmFunction},
	{Method: "OPTIONS", Path: "/confirm", Function: ConfirmFunction},
	{Method: "POST", Path: "/confirm/resend", Function: ConfirmFunction},
}
