package lambdahttp_test

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/unbundled/unbundled/functions/internal/lambdahttp"
	"github.com/unbundled/unbundled/shared/web"
)

// seen is what a handler behind the adapter learns of a request.
type seen struct {
	operator, requestID, remoteAddr string
}

func serve(t *testing.T, ev events.APIGatewayV2HTTPRequest) seen {
	t.Helper()
	var got seen
	h := lambdahttp.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = seen{web.Operator(r.Context()), web.RequestID(r.Context()), r.RemoteAddr}
		w.WriteHeader(http.StatusNoContent)
	}), "")
	res, err := h(t.Context(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("status: got %d, want 204", res.StatusCode)
	}
	return got
}

func adminEvent(t *testing.T) events.APIGatewayV2HTTPRequest {
	t.Helper()
	data, err := os.ReadFile("testdata/admin_iam.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestOperatorIsTheIAMCaller(t *testing.T) {
	ev := adminEvent(t)
	// Headers a client might send to pose as someone else change nothing.
	ev.Headers["x-operator"] = "arn:aws:iam::123456789012:user/mallory"
	ev.Headers["operator"] = "mallory"
	got := serve(t, ev)
	want := seen{operator: "arn:aws:sts::123456789012:assumed-role/unbundled-operator/operator", requestID: "CJm2ahGkLPEEMqw=", remoteAddr: "203.0.113.7"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestNoOperatorWithoutIAMAuthorisation(t *testing.T) {
	ev := adminEvent(t)
	ev.RequestContext.Authorizer = nil
	ev.Headers["x-operator"] = "arn:aws:iam::123456789012:user/mallory"
	if got := serve(t, ev); got.operator != "" {
		t.Errorf("operator without an IAM authoriser: got %q, want none", got.operator)
	}
}
