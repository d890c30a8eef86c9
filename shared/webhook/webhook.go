// Package webhook tells the business's other sending tools that someone
// left: it POSTs each consent.Notification as JSON to one HTTPS endpoint,
// signed the way the Standard Webhooks specification describes, so the
// receiver can check it came from us and was not replayed:
//
//	webhook-id:        the notification id (stable across retries: de-duplicate on it)
//	webhook-timestamp: Unix seconds when this attempt was signed
//	webhook-signature: "v1," + base64(HMAC-SHA256(secret, id + "." + timestamp + "." + body))
//
// Delivery is at least once: the outbox retries until the receiver answers
// 2xx. A 4xx other than 408 and 429 is a permanent refusal (recorded as a
// failed job); anything else is retried.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// MinSecretLength is the shortest signing secret accepted, in bytes.
const MinSecretLength = 32

// Client posts notifications to one endpoint. It implements
// consent.Notifier.
type Client struct {
	url    string
	secret []byte
	http   *http.Client
	now    func() time.Time
}

// New returns a client for endpoint (an absolute https URL; http only for
// a loopback address, for tests and local tools) signing with secret. A nil
// httpClient means one with a 10 s timeout.
func New(endpoint string, secret []byte, httpClient *http.Client) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return nil, fmt.Errorf("webhook URL %q: must be an absolute https URL (http only on 127.0.0.1 or localhost)", endpoint)
	}
	if len(secret) < MinSecretLength {
		return nil, fmt.Errorf("webhook secret: at least %d bytes, got %d", MinSecretLength, len(secret))
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{url: endpoint, secret: secret, http: httpClient, now: time.Now}, nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// Notify posts n. See the package comment for the answer classes.
func (c *Client) Notify(ctx context.Context, n consent.Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode notification: %w", err)
	}
	ts := strconv.FormatInt(c.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Webhook-Id", n.ID)
	req.Header.Set("Webhook-Timestamp", ts)
	req.Header.Set("Webhook-Signature", "v1,"+Sign(c.secret, n.ID, ts, body))
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests:
		return fmt.Errorf("webhook answered %d: %w", code, consent.ErrRejected)
	default:
		return fmt.Errorf("webhook answered %d", code)
	}
}

// Sign is the base64 HMAC-SHA256 signature of one delivery, as receivers
// recompute it.
func Sign(secret []byte, id, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ErrBadSignature is returned by Verify for any delivery that does not
// verify.
var ErrBadSignature = errors.New("webhook signature does not verify")

// Verify checks a delivery as a receiver should: the signature matches and
// the timestamp is within tolerance of now (against replays). Receivers in
// Go can use it directly; it documents the scheme for everyone else.
func Verify(secret []byte, id, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrBadSignature
	}
	want := "v1," + Sign(secret, id, timestamp, body)
	if !hmac.Equal([]byte(signature), []byte(want)) {
		return ErrBadSignature
	}
	return nil
}
