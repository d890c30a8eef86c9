// Package mailbox is the local server's inbox: a consent.Mailer that keeps
// every message in a SQLite file instead of sending it, and an HTTP handler
// (see Handler) that shows them to the developer.
//
// Messages survive restarts. The file is opened with modernc.org/sqlite (no
// cgo) in WAL mode with a busy timeout, so the server and a second process
// (a test, the sqlite3 shell) can read it at the same time.
package mailbox

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/unbundled/unbundled/shared/consent"
	"github.com/unbundled/unbundled/shared/mailcheck"
)

// ErrNotFound is returned (wrapped) by Get for an unknown id.
var ErrNotFound = errors.New("mailbox message not found")

// Stored is one message as the mailbox keeps it. Its JSON form is the shape
// served at /_local/mailbox.json:
//
//	{"id","from","to":[…],"subject","headers":{"Name":"value"},"text","html","sent_at"}
type Stored struct {
	ID string `json:"id"`
	// From is the From header as it would go on the wire: an RFC 5322
	// mailbox, its display name RFC 2047-encoded when not ASCII.
	From    string   `json:"from"`
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	// Headers are the message's header fields in wire form: From, To,
	// Reply-To (when set), Subject (RFC 2047-encoded when not ASCII), Date,
	// Message-ID, MIME-Version and every consent.Message header such as
	// List-Unsubscribe and List-Unsubscribe-Post. Names are unique
	// (mailcheck refuses duplicates).
	Headers map[string]string `json:"headers"`
	Text    string            `json:"text"`
	HTML    string            `json:"html"`
	SentAt  time.Time         `json:"sent_at"`
}

// Mailbox stores messages in one SQLite file. It is safe for concurrent use;
// set Now and NewID, if at all, before the first Send.
type Mailbox struct {
	// Now is the clock stamped on each message; it defaults to time.Now.
	Now func() time.Time
	// NewID returns a fresh message id; it defaults to crypto/rand.Text.
	// Ids appear in URLs, so they must be URL path-safe.
	NewID func() string

	db *sql.DB
}

var _ consent.Mailer = (*Mailbox)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS messages (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	id           TEXT    NOT NULL UNIQUE,
	sent_at      INTEGER NOT NULL, -- Unix nanoseconds
	from_mailbox TEXT    NOT NULL,
	to_addresses TEXT    NOT NULL, -- JSON array of strings
	subject      TEXT    NOT NULL,
	headers      TEXT    NOT NULL, -- JSON object, name to value
	text_part    TEXT    NOT NULL,
	html_part    TEXT    NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (sent_at, seq);
`

// Open opens (creating if needed) the mailbox file at path. The directory
// must exist. It fails if the file cannot be opened or is not a SQLite
// database.
func Open(path string) (*Mailbox, error) {
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("open mailbox: %w", err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open mailbox: create schema: %w", err)
	}
	return &Mailbox{Now: time.Now, NewID: rand.Text, db: db}, nil
}

// dsn builds a SQLite URI for path: WAL journal, a 5 s busy timeout and
// NORMAL sync (safe with WAL). '%', '?' and '#' in the path are escaped so
// they cannot start a query or fragment.
func dsn(path string) string {
	escaped := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	return "file:" + escaped +
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
}

// Close closes the database file.
func (m *Mailbox) Close() error {
	if err := m.db.Close(); err != nil {
		return fmt.Errorf("close mailbox: %w", err)
	}
	return nil
}

// Send stores msg and returns its new id. A message that fails
// mailcheck.Check is refused and nothing is stored; the error wraps
// mailcheck.ErrInvalidMessage.
func (m *Mailbox) Send(ctx context.Context, msg consent.Message) (string, error) {
	if err := mailcheck.Check(msg); err != nil {
		return "", fmt.Errorf("mailbox send: %w", err)
	}
	s := m.build(msg)
	to, err := json.Marshal(s.To)
	if err != nil {
		return "", fmt.Errorf("mailbox send: encode to: %w", err)
	}
	headers, err := json.Marshal(s.Headers)
	if err != nil {
		return "", fmt.Errorf("mailbox send: encode headers: %w", err)
	}
	_, err = m.db.ExecContext(ctx,
		`INSERT INTO messages (id, sent_at, from_mailbox, to_addresses, subject, headers, text_part, html_part)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.SentAt.UnixNano(), s.From, string(to), s.Subject, string(headers), s.Text, s.HTML)
	if err != nil {
		return "", fmt.Errorf("mailbox send: insert: %w", err)
	}
	return s.ID, nil
}

// build turns a checked message into what is stored.
func (m *Mailbox) build(msg consent.Message) Stored {
	now, newID := m.Now, m.NewID
	if now == nil {
		now = time.Now
	}
	if newID == nil {
		newID = rand.Text
	}
	s := Stored{
		ID:      newID(),
		From:    mailcheck.From(msg),
		To:      []string{msg.To},
		Subject: msg.Subject,
		Text:    msg.Text,
		HTML:    msg.HTML,
		SentAt:  now().UTC(),
	}
	s.Headers = map[string]string{
		"From":         s.From,
		"To":           msg.To,
		"Subject":      mime.QEncoding.Encode("utf-8", msg.Subject),
		"Date":         s.SentAt.Format(time.RFC1123Z),
		"Message-ID":   "<" + s.ID + "@mailbox.invalid>",
		"MIME-Version": "1.0",
	}
	if msg.ReplyTo != "" {
		s.Headers["Reply-To"] = msg.ReplyTo
	}
	for _, h := range msg.Headers {
		s.Headers[h.Name] = h.Value
	}
	return s
}

const selectStored = `SELECT id, sent_at, from_mailbox, to_addresses, subject, headers, text_part, html_part FROM messages`

// List returns every stored message, oldest first (newest last), ordered by
// sent_at and then by the order they were stored.
func (m *Mailbox) List(ctx context.Context) ([]Stored, error) {
	rows, err := m.db.QueryContext(ctx, selectStored+` ORDER BY sent_at, seq`)
	if err != nil {
		return nil, fmt.Errorf("list mailbox: %w", err)
	}
	defer rows.Close()
	list := []Stored{}
	for rows.Next() {
		s, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("list mailbox: %w", err)
		}
		list = append(list, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list mailbox: %w", err)
	}
	return list, nil
}

// Get returns the message with id; the error wraps ErrNotFound when there
// is none.
func (m *Mailbox) Get(ctx context.Context, id string) (Stored, error) {
	s, err := scan(m.db.QueryRowContext(ctx, selectStored+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Stored{}, fmt.Errorf("get mailbox message: %w", ErrNotFound)
	}
	if err != nil {
		return Stored{}, fmt.Errorf("get mailbox message: %w", err)
	}
	return s, nil
}

func scan(row interface{ Scan(...any) error }) (Stored, error) {
	var (
		s           Stored
		sentAt      int64
		to, headers string
	)
	if err := row.Scan(&s.ID, &sentAt, &s.From, &to, &s.Subject, &headers, &s.Text, &s.HTML); err != nil {
		return Stored{}, err
	}
	if err := json.Unmarshal([]byte(to), &s.To); err != nil {
		return Stored{}, fmt.Errorf("decode to of %s: %w", s.ID, err)
	}
	if err := json.Unmarshal([]byte(headers), &s.Headers); err != nil {
		return Stored{}, fmt.Errorf("decode headers of %s: %w", s.ID, err)
	}
	s.SentAt = time.Unix(0, sentAt).UTC()
	return s, nil
}
