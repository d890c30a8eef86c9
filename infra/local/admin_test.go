package main_test

import (
	"bufio"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// decision is one answer of POST /admin/may-email or `unbundled may-email
// -json`, which must be identical.
type decision struct {
	Address string `json:"address"`
	Allowed bool   `json:"allowed"`
	Basis   string `json:"basis"`
	Purpose string `json:"purpose"`
	Reason  string `json:"reason"`
}

// TestMayEmailEndpointAndCommandAgree asks the running local server's admin
// endpoint and the operator command, pointed at the same data directory,
// the same question, and wants the same answers and reasons.
func TestMayEmailEndpointAndCommandAgree(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	for _, body := range []string{
		"email=ann%40example.com&magnet=uk-gdpr-checklist&marketing_consent=yes",
		"email=bob%40example.com&magnet=uk-gdpr-checklist",
	} {
		if resp, out := s.do(t, "POST", "/signup", "application/x-www-form-urlencoded", body); resp.StatusCode != 303 {
			t.Fatalf("sign-up: %d %s", resp.StatusCode, out)
		}
	}
	addresses := []string{"ann@example.com", "Bob@Example.com", "carol@example.com"}
	req, _ := json.Marshal(map[string]any{"addresses": addresses})
	resp, out := s.do(t, "POST", "/admin/may-email", "application/json", string(req))
	if resp.StatusCode != 200 {
		t.Fatalf("POST /admin/may-email from 127.0.0.1: %d %s", resp.StatusCode, out)
	}
	var fromEndpoint struct{ Decisions []decision }
	if err := json.Unmarshal([]byte(out), &fromEndpoint); err != nil {
		t.Fatal(err)
	}

	stdout := cli(t, append([]string{"may-email", "-json", "-data", dir, "-magnets", "magnets.json"}, addresses...)...)
	var fromCommand []decision
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var d decision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		fromCommand = append(fromCommand, d)
	}
	if !slices.Equal(fromEndpoint.Decisions, fromCommand) {
		t.Errorf("answers differ:\nendpoint: %+v\ncommand:  %+v", fromEndpoint.Decisions, fromCommand)
	}
	if len(fromCommand) != 3 || fromCommand[0].Basis != "none" || !strings.Contains(fromCommand[0].Reason, "awaits confirmation") {
		t.Errorf("answers: got %+v, want three, ann's awaiting confirmation", fromCommand)
	}
}
