// Package lambdahttp runs an http.Handler on AWS Lambda behind an API Gateway
// HTTP API (payload format 2.0), so functions serve the very handlers the
// local server mounts.
package lambdahttp

import (
	"context"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/web"
)

// Handler is the Lambda handler function for API Gateway HTTP API events.
type Handler func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// New adapts h. The request id recorded as evidence is API Gateway's; the
// source IP arrives as RemoteAddr from requestContext.http.sourceIp. When
// publicBaseURL is empty, emailed links use the domain API Gateway reports
// for the request (not the client's Host header). On an IAM-authorised
// route the operator (web.Operator) is the caller API Gateway checked,
// requestContext.authorizer.iam.userArn — taken from the event's request
// context, never from a header.
func New(h http.Handler, publicBaseURL string) Handler {
	wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if rc, ok := core.GetAPIGatewayV2ContextFromContext(ctx); ok {
			if rc.RequestID != "" {
				ctx = web.WithRequestID(ctx, rc.RequestID)
			}
			if publicBaseURL == "" && rc.DomainName != "" {
				ctx = consent.WithBaseURL(ctx, "https://"+rc.DomainName)
			}
			if rc.Authorizer != nil && rc.Authorizer.IAM != nil && rc.Authorizer.IAM.UserARN != "" {
				ctx = web.WithOperator(ctx, rc.Authorizer.IAM.UserARN)
			}
		}
		h.ServeHTTP(w, r.WithContext(ctx))
	})
	return httpadapter.NewV2(wrapped).ProxyWithContext
}
