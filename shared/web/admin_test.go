package web_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/unbundled/unbundled/shared/consent/consenttest"
	"github.com/unbundled/unbundled/shared/web"
)

const jsonType = "application/json"

func allowAdmin(s *web.Server) { s.AdminAllowed = func(*http.Request) bool { return true } }

func TestMayEmailEndpoint(t *testing.T) {
	e := newEnv(t, allowAdmin)
	if w := e.do(t, "POST", "/signup", jsonType, `{"email":"ann@example.com","magnet":"uk-gdpr-checklist","marketing_consent":true}`); w.Code != http.StatusAccepted {
		t.Fatalf("sign-up: %d %s", w.Code, w.Body)
	}
	w := e.do(t, "POST", "/admin/may-email", jsonType, `{"addresses":["ANN@example.com","bob@example.com","not an address"]}`)
	if w.Code != http.StatusOK {
		t.Fatalf("status: got %d, want 200\n%s", w.Code, w.Body)
	}
	var got struct {
		Decisions []struct {
			Address, Basis, Purpose, Reason, Error string
			Allowed                                bool
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Decisions) != 3 {
		t.Fatalf("decisions: got %d, want 3: %s", len(got.Decisions), w.Body)
	}
	ann, bob, bad := got.Decisions[0], got.Decisions[1], got.Decisions[2]
	if ann.Address != "ANN@example.com" || ann.Allowed || ann.Basis != "none" || !strings.HasSuffix(ann.Reason, "awaits confirmation") || ann.Purpose != consenttest.SamplePurpose {
		t.Errorf("ann (awaiting confirmation): got %+v", ann)
	}
	if bob.Allowed || bob.Basis != "none" || bob.Reason != "no consent recorded for "+consenttest.SamplePurpose {
		t.Errorf("bob (unknown): got %+v", bob)
	}
	if bad.Error == "" || bad.Basis != "" {
		t.Errorf("invalid address: got %+v, want an error and no decision", bad)
	}
}

func TestMayEmailEndpointRefusals(t *testing.T) {
	body := `{"addresses":["ann@example.com"]}`
	tests := []struct {
		name        string
		allow       bool
		contentType string
		body        string
		headers     []string
		want        int
	}{
		{"no admin rights", false, jsonType, body, nil, http.StatusForbidden},
		{"a form post", true, form, "addresses=ann@example.com", nil, http.StatusBadRequest},
		{"from another site", true, jsonType, body, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"unknown member", true, jsonType, `{"addresses":["a@example.com"],"all":true}`, nil, http.StatusBadRequest},
		{"no addresses", true, jsonType, `{"addresses":[]}`, nil, http.StatusBadRequest},
		{"a purpose nobody configured answers none", true, jsonType, `{"addresses":["a@example.com"],"purpose":"marketing:nobody"}`, nil, http.StatusOK},
		{"too many", true, jsonType, `{"addresses":[` + strings.Repeat(`"a@b.example",`, 500) + `"a@b.example"]}`, nil, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []func(*web.Server)
			if tt.allow {
				opts = append(opts, allowAdmin)
			}
			e := newEnv(t, opts...)
			if w := e.do(t, "POST", "/admin/may-email", tt.contentType, tt.body, tt.headers...); w.Code != tt.want {
				t.Errorf("status: got %d, want %d\n%s", w.Code, tt.want, w.Body)
			}
		})
	}
}

func TestLoopbackOnly(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:5000": true, "[::1]:5000": true, "127.9.9.9:1": true,
		"192.0.2.1:5000": false, "[2001:db8::1]:80": false, "": false, "localhost:80": false,
	} {
		r := httptest.NewRequest("POST", "/admin/may-email", nil)
		r.RemoteAddr = addr
		if got := web.LoopbackOnly(r); got != want {
			t.Errorf("LoopbackOnly(%q): got %v, want %v", addr, got, want)
		}
	}
}
