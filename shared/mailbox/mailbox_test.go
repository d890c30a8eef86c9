package mailbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/mailbox"
	"github.com/unbundled/unbundled/shared/mailcheck"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

// newMailbox opens a mailbox in a temporary file with a clock the test
// moves and ids "m1", "m2", ...
func newMailbox(t *testing.T) (*mailbox.Mailbox, *time.Time, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mailbox.db")
	mb, err := mailbox.Open(path)
	if err != nil {
		t.Fatalf("Open(%q) error = %v", path, err)
	}
	t.Cleanup(func() { mb.Close() })
	now := t0
	mb.Now = func() time.Time { return now }
	var mu sync.Mutex
	n := 0
	mb.NewID = func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("m%d", n)
	}
	return mb, &now, path
}

func freebie() consent.Message {
	return consent.Message{
		FromName: "Zoë's Books", FromEmail: "hello@acme.example", To: "reader@example.com",
		ReplyTo: "support@acme.example", Subject: "Your download: Café guide",
		Text: "Download: https://acme.example/dl/guide.pdf\nUnsubscribe: https://acme.example/unsubscribe?t=tok",
		HTML: `<p><a href="https://acme.example/dl/guide.pdf">Download</a></p>`,
		Headers: []consent.Header{
			{Name: "List-Unsubscribe", Value: "<https://acme.example/unsubscribe?t=tok>"},
			{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
		},
	}
}

func TestSendAndGet(t *testing.T) {
	mb, _, _ := newMailbox(t)
	ctx := context.Background()

	id, err := mb.Send(ctx, freebie())
	if err != nil {
		t.Fatalf("Send() error = %v", err)
	}
	if id != "m1" {
		t.Errorf("Send() id = %q, want %q", id, "m1")
	}
	got, err := mb.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get(%q) error = %v", id, err)
	}
	from := `=?utf-8?b?Wm/DqydzIEJvb2tz?= <hello@acme.example>` // RFC 2047 "Zoë's Books"
	want := mailbox.Stored{
		ID: "m1", From: from, To: []string{"reader@example.com"},
		Subject: "Your download: Café guide",
		Headers: map[string]string{
			"From":                  from,
			"To":                    "reader@example.com",
			"Reply-To":              "support@acme.example",
			"Subject":               "=?utf-8?q?Your_download:_Caf=C3=A9_guide?=",
			"Date":                  "Fri, 14 Mar 2025 09:26:53 +0000",
			"Message-ID":            "<m1@mailbox.invalid>",
			"MIME-Version":          "1.0",
			"List-Unsubscribe":      "<https://acme.example/unsubscribe?t=tok>",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		},
		Text:   freebie().Text,
		HTML:   freebie().HTML,
		SentAt: t0,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestSendWithoutOptionalParts(t *testing.T) {
	mb, _, _ := newMailbox(t)
	ctx := context.Background()
	id, err := mb.Send(ctx, consent.Message{FromEmail: "hello@acme.example", To: "reader@example.com", Subject: "Plain", Text: "t"})
	if err != nil {
		t.Fatalf("Send() error = %v", err)
	}
	got, err := mb.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	if got.From != "hello@acme.example" {
		t.Errorf("From = %q, want the bare address", got.From)
	}
	for _, name := range []string{"Reply-To", "List-Unsubscribe", "List-Unsubscribe-Post"} {
		if v, ok := got.Headers[name]; ok {
			t.Errorf("Headers[%q] = %q, want absent", name, v)
		}
	}
	if got.Headers["Subject"] != "Plain" {
		t.Errorf("Headers[Subject] = %q, want ASCII subject unencoded", got.Headers["Subject"])
	}
}

func TestSendRefusesInjection(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*consent.Message)
	}{
		{"CRLF in subject", func(m *consent.Message) { m.Subject = "Hi\r\nBcc: victim@example.com" }},
		{"LF in to", func(m *consent.Message) { m.To = "reader@example.com\nBcc: victim@example.com" }},
		{"NUL in from name", func(m *consent.Message) { m.FromName = "Acme\x00" }},
		{"CRLF in header value", func(m *consent.Message) {
			m.Headers = []consent.Header{{Name: "List-Unsubscribe", Value: "<x>\r\nBcc: victim@example.com"}}
		}},
		{"bad header name", func(m *consent.Message) { m.Headers = []consent.Header{{Name: "X Y", Value: "v"}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mb, _, _ := newMailbox(t)
			msg := freebie()
			tt.modify(&msg)
			id, err := mb.Send(context.Background(), msg)
			if !errors.Is(err, mailcheck.ErrInvalidMessage) {
				t.Errorf("Send() error = %v, want ErrInvalidMessage", err)
			}
			if id != "" {
				t.Errorf("Send() id = %q, want empty", id)
			}
			list, err := mb.List(context.Background())
			if err != nil {
				t.Fatalf("List() error = %v", err)
			}
			if len(list) != 0 {
				t.Errorf("List() has %d messages, want 0: a refused message must not be stored", len(list))
			}
		})
	}
}

func TestListOrder(t *testing.T) {
	mb, now, _ := newMailbox(t)
	ctx := context.Background()
	send := func(at time.Time, subject string) {
		t.Helper()
		*now = at
		msg := freebie()
		msg.Subject = subject
		if _, err := mb.Send(ctx, msg); err != nil {
			t.Fatalf("Send(%q) error = %v", subject, err)
		}
	}
	send(t0.Add(2*time.Minute), "third")
	send(t0, "first")
	send(t0.Add(time.Minute), "second-a")
	send(t0.Add(time.Minute), "second-b") // same instant: storage order decides

	list, err := mb.List(ctx)
	if err != nil {
		t.Fatalf("List() error = %v", err)
	}
	var got []string
	for _, s := range list {
		got = append(got, s.Subject)
	}
	want := []string{"first", "second-a", "second-b", "third"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List() subjects = %q, want %q (newest last)", got, want)
	}
}

func TestListEmpty(t *testing.T) {
	mb, _, _ := newMailbox(t)
	list, err := mb.List(context.Background())
	if err != nil {
		t.Fatalf("List() error = %v", err)
	}
	if list == nil || len(list) != 0 {
		t.Errorf("List() = %#v, want an empty non-nil slice", list)
	}
}

func TestGetUnknown(t *testing.T) {
	mb, _, _ := newMailbox(t)
	_, err := mb.Get(context.Background(), "nope")
	if !errors.Is(err, mailbox.ErrNotFound) {
		t.Errorf("Get(unknown) error = %v, want ErrNotFound", err)
	}
}

func TestPersistsAcrossReopen(t *testing.T) {
	mb, _, path := newMailbox(t)
	ctx := context.Background()
	id, err := mb.Send(ctx, freebie())
	if err != nil {
		t.Fatalf("Send() error = %v", err)
	}
	before, err := mb.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	if err := mb.Close(); err != nil {
		t.Fatalf("Close() error = %v", err)
	}

	reopened, err := mailbox.Open(path)
	if err != nil {
		t.Fatalf("reopen error = %v", err)
	}
	defer reopened.Close()
	after, err := reopened.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get() after reopen error = %v", err)
	}
	if !reflect.DeepEqual(after, before) {
		t.Errorf("after reopen Get() =\n%+v\nwant\n%+v", after, before)
	}
	// A fresh Mailbox has real defaults: a random id and the wall clock.
	id2, err := reopened.Send(ctx, freebie())
	if err != nil {
		t.Fatalf("Send() after reopen error = %v", err)
	}
	if id2 == id || len(id2) < 16 {
		t.Errorf("default id = %q, want a fresh random id", id2)
	}
	list, err := reopened.List(ctx)
	if err != nil {
		t.Fatalf("List() error = %v", err)
	}
	if len(list) != 2 || list[0].ID != id || list[1].ID != id2 {
		t.Errorf("List() ids after reopen = %v, want [%s %s]", ids(list), id, id2)
	}
}

func TestOpenRejectsNonDatabase(t *testing.T) {
	if _, err := mailbox.Open(filepath.Join(t.TempDir(), "missing-dir", "mailbox.db")); err == nil {
		t.Error("Open() in a missing directory error = nil, want an error")
	}
}

func TestConcurrentSend(t *testing.T) {
	mb, _, _ := newMailbox(t)
	ctx := context.Background()
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			if _, err := mb.Send(ctx, freebie()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Send() error = %v", err)
	}
	list, err := mb.List(ctx)
	if err != nil {
		t.Fatalf("List() error = %v", err)
	}
	if len(list) != n {
		t.Errorf("List() has %d messages, want %d", len(list), n)
	}
}

func TestStoredJSONShape(t *testing.T) {
	s := mailbox.Stored{
		ID: "m1", From: "a@example.com", To: []string{"b@example.com"}, Subject: "s",
		Headers: map[string]string{"List-Unsubscribe": "<x>"}, Text: "t", HTML: "<p>h</p>", SentAt: t0,
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"m1","from":"a@example.com","to":["b@example.com"],"subject":"s",` +
		`"headers":{"List-Unsubscribe":"<x>"},"text":"t","html":"<p>h</p>","sent_at":"2025-03-14T09:26:53.589793Z"}`
	// encoding/json escapes <, > and & by default; compare decoded forms.
	var got, wantAny any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &wantAny); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, wantAny) {
		t.Errorf("json.Marshal(Stored) = %s, want %s", b, want)
	}
}

func ids(list []mailbox.Stored) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}

func TestOpenPathsWithURISyntax(t *testing.T) {
	for _, name := range []string{"with space.db", "q?mark.db", "hash#tag.db", "per%25cent.db"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			mb, err := mailbox.Open(path)
			if err != nil {
				t.Fatalf("Open(%q) error = %v", path, err)
			}
			if _, err := mb.Send(context.Background(), freebie()); err != nil {
				t.Fatalf("Send() error = %v", err)
			}
			if err := mb.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("database file not created at %q: %v", path, err)
			}
		})
	}
}

func TestOpenUsesWAL(t *testing.T) {
	mb, _, path := newMailbox(t)
	if _, err := mb.Send(context.Background(), freebie()); err != nil {
		t.Fatal(err)
	}
	// In WAL mode SQLite keeps a -wal file beside the database while it is open.
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("no write-ahead log beside the open database: %v", err)
	}
}
