// Package sesstandin is an Amazon SES (API v2) stand-in for fault and load
// tests: it answers SendEmail like SES does — including throttling,
// transient failures and rejections, in the REST-JSON error shape the AWS
// SDK for Go decodes into its typed errors — and records every message it
// accepts.
//
// Point an SDK client at it with BaseEndpoint (the stand-in ignores request
// signatures):
//
//	srv := httptest.NewServer(sesstandin.New(sesstandin.Options{MaxPerSecond: 14}).Handler())
//	client := sesv2.NewFromConfig(cfg, func(o *sesv2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
//
// Only SendEmail with Simple content is implemented; everything else is 404.
package sesstandin

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// SendEmailPath is the SES v2 SendEmail route.
const SendEmailPath = "/v2/email/outbound-emails"

// maxBody caps a SendEmail request body (SES v2 allows 40 MB messages).
const maxBody = 40 << 20

// Options configure the faults the stand-in injects.
type Options struct {
	// MaxPerSecond is the sustained sending rate; calls above it answer 429
	// TooManyRequestsException ("Maximum sending rate exceeded."), as SES
	// does when the account's send rate is exceeded. Zero means unlimited.
	MaxPerSecond float64
	// Burst is the token bucket's size: how many calls may arrive at once.
	// Zero means MaxPerSecond rounded up (at least 1).
	Burst int
	// FailEvery, if N > 0, answers every Nth call that passed the rate limit
	// and was well-formed with 500 InternalFailure (transient; nothing is
	// recorded).
	FailEvery int
	// RejectRecipients are addresses (compared case-insensitively) whose
	// messages get 400 MessageRejected, as SES answers for an unverified
	// recipient in the sandbox.
	RejectRecipients []string
	// RejectSenders are sender addresses (compared case-insensitively)
	// whose messages get 400 MessageRejected, as SES answers while the
	// sender identity is not verified: a permanent rejection until the
	// setup is fixed (Verify).
	RejectSenders []string
	// Now is the clock for the rate limit; nil means time.Now.
	Now func() time.Time
}

// Header is one custom message header.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Message is one accepted SendEmail call.
type Message struct {
	ID               string    `json:"id"`
	At               time.Time `json:"at"`
	From             string    `json:"from"`
	To               []string  `json:"to"`
	Cc               []string  `json:"cc,omitempty"`
	Bcc              []string  `json:"bcc,omitempty"`
	ReplyTo          []string  `json:"reply_to,omitempty"`
	Subject          string    `json:"subject"`
	Text             string    `json:"text,omitempty"`
	HTML             string    `json:"html,omitempty"`
	Headers          []Header  `json:"headers,omitempty"`
	ConfigurationSet string    `json:"configuration_set,omitempty"`
}

// Header returns the value of the first custom header called name
// (case-insensitive).
func (m Message) Header(name string) (string, bool) {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// Stats counts SendEmail calls by outcome.
type Stats struct {
	Accepted    int `json:"accepted"`
	Throttled   int `json:"throttled"`    // 429 TooManyRequestsException
	Failed      int `json:"failed"`       // 500 InternalFailure (FailEvery)
	Rejected    int `json:"rejected"`     // 400 MessageRejected (RejectRecipients, RejectSenders)
	BadRequests int `json:"bad_requests"` // 400 BadRequestException (malformed call)
	// PerRecipient counts accepted messages per To address, as sent; a
	// count above 1 is a duplicate delivery.
	PerRecipient map[string]int `json:"per_recipient"`
}

// Server is the stand-in. Its methods are safe for concurrent use.
type Server struct {
	opts    Options
	now     func() time.Time
	limiter *rate.Limiter

	// reject and rejectFrom are the recipients and senders rejected; mu
	// guards them (Verify changes them).
	reject     map[string]bool
	rejectFrom map[string]bool

	mu       sync.Mutex
	admitted int // calls past the rate limit and well-formed, for FailEvery
	sent     []Message
	stats    Stats
}

// New returns a stand-in with opts.
func New(opts Options) *Server {
	s := &Server{opts: opts, now: opts.Now, limiter: rate.NewLimiter(rate.Inf, 0), reject: map[string]bool{}, rejectFrom: map[string]bool{}}
	if s.now == nil {
		s.now = time.Now
	}
	if opts.MaxPerSecond > 0 {
		burst := opts.Burst
		if burst <= 0 {
			burst = max(1, int(math.Ceil(opts.MaxPerSecond)))
		}
		s.limiter = rate.NewLimiter(rate.Limit(opts.MaxPerSecond), burst)
	}
	for _, addr := range opts.RejectRecipients {
		s.reject[strings.ToLower(addr)] = true
	}
	for _, addr := range opts.RejectSenders {
		s.rejectFrom[strings.ToLower(addr)] = true
	}
	s.stats.PerRecipient = map[string]int{}
	return s
}

// Handler serves POST /v2/email/outbound-emails.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+SendEmailPath, s.sendEmail)
	return mux
}

// Verify marks identities (addresses) as verified, as fixing the SES
// setup does: messages from or to them are no longer rejected
// (RejectSenders, RejectRecipients).
func (s *Server) Verify(identities ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range identities {
		delete(s.reject, strings.ToLower(id))
		delete(s.rejectFrom, strings.ToLower(id))
	}
}

// Sent returns a copy of every accepted message, in order.
func (s *Server) Sent() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// Stats returns the counts so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.PerRecipient = make(map[string]int, len(s.stats.PerRecipient))
	for k, v := range s.stats.PerRecipient {
		st.PerRecipient[k] = v
	}
	return st
}

// sendEmailRequest is the part of the SES v2 SendEmail JSON body the
// stand-in reads.
type sendEmailRequest struct {
	FromEmailAddress string
	Destination      *struct {
		ToAddresses, CcAddresses, BccAddresses []string
	}
	ReplyToAddresses     []string
	ConfigurationSetName string
	Content              *struct {
		Simple *struct {
			Subject *content
			Body    *struct {
				Text, Html *content
			}
			Headers []struct{ Name, Value string }
		}
		Raw      json.RawMessage
		Template json.RawMessage
	}
}

type content struct{ Data, Charset string }

func (c *content) data() string {
	if c == nil {
		return ""
	}
	return c.Data
}

// sendEmail answers one SendEmail call. The checks run in SES's order as
// far as it shows: rate limit, well-formedness, transient failure, sender
// rejection, recipient rejection.
func (s *Server) sendEmail(w http.ResponseWriter, r *http.Request) {
	if !s.limiter.AllowN(s.now(), 1) {
		s.count(func(st *Stats) { st.Throttled++ })
		writeError(w, http.StatusTooManyRequests, "TooManyRequestsException", "Maximum sending rate exceeded.")
		return
	}
	msg, err := decode(w, r)
	if err != nil {
		s.count(func(st *Stats) { st.BadRequests++ })
		writeError(w, http.StatusBadRequest, "BadRequestException", err.Error())
		return
	}

	s.mu.Lock()
	s.admitted++
	if s.opts.FailEvery > 0 && s.admitted%s.opts.FailEvery == 0 {
		s.stats.Failed++
		s.mu.Unlock()
		writeError(w, http.StatusInternalServerError, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure.")
		return
	}
	if from := senderAddress(msg.From); s.rejectFrom[from] {
		s.stats.Rejected++
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, "MessageRejected", "Email address is not verified. The following identities failed the check in region EU-WEST-2: "+from)
		return
	}
	for _, addr := range slices.Concat(msg.To, msg.Cc, msg.Bcc) {
		if s.reject[strings.ToLower(addr)] {
			s.stats.Rejected++
			s.mu.Unlock()
			writeError(w, http.StatusBadRequest, "MessageRejected", "Email address is not verified. The following identities failed the check in region US-EAST-1: "+addr)
			return
		}
	}
	msg.ID = newID()
	msg.At = s.now().UTC()
	s.sent = append(s.sent, msg)
	s.stats.Accepted++
	for _, addr := range msg.To {
		s.stats.PerRecipient[addr]++
	}
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", newID())
	_ = json.NewEncoder(w).Encode(map[string]string{"MessageId": msg.ID})
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// decode reads a SendEmail body into a Message; its error text is the
// BadRequestException message.
func decode(w http.ResponseWriter, r *http.Request) (Message, error) {
	var req sendEmailRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&req); err != nil {
		return Message{}, errors.New("the request body is not a valid SendEmail JSON document")
	}
	if req.FromEmailAddress == "" {
		return Message{}, errors.New("FromEmailAddress is required")
	}
	if req.Destination == nil || len(req.Destination.ToAddresses)+len(req.Destination.CcAddresses)+len(req.Destination.BccAddresses) == 0 {
		return Message{}, errors.New("at least one destination address is required")
	}
	if req.Content == nil || req.Content.Simple == nil {
		return Message{}, errors.New("the stand-in supports only Content.Simple")
	}
	simple := req.Content.Simple
	if simple.Subject == nil || simple.Body == nil || (simple.Body.Text == nil && simple.Body.Html == nil) {
		return Message{}, errors.New("Content.Simple needs a Subject and a Text or Html body")
	}
	msg := Message{
		From:             req.FromEmailAddress,
		To:               req.Destination.ToAddresses,
		Cc:               req.Destination.CcAddresses,
		Bcc:              req.Destination.BccAddresses,
		ReplyTo:          req.ReplyToAddresses,
		Subject:          simple.Subject.data(),
		Text:             simple.Body.Text.data(),
		HTML:             simple.Body.Html.data(),
		ConfigurationSet: req.ConfigurationSetName,
	}
	for _, h := range simple.Headers {
		msg.Headers = append(msg.Headers, Header{Name: h.Name, Value: h.Value})
	}
	return msg, nil
}

// senderAddress is the lower-cased address of a From value, which may
// carry a display name ("Example Ltd" <hello@example.com>).
func senderAddress(from string) string {
	if a, err := mail.ParseAddress(from); err == nil {
		return strings.ToLower(a.Address)
	}
	return strings.ToLower(from)
}

// writeError answers in the SES v2 REST-JSON error shape: the error code in
// the X-Amzn-Errortype header and {"message": ...} as the body. The AWS SDK
// for Go takes the code from that header and decodes the body into the
// typed error (e.g. *types.TooManyRequestsException); an unmodelled code
// such as InternalFailure becomes a *smithy.GenericAPIError.
func writeError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", code)
	w.Header().Set("X-Amzn-Requestid", newID())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message})
}

// newID returns a random id shaped like an SES message id's tail.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return fmt.Sprintf("%s-%s-%s-%s-%s-000000", h[:8], h[8:12], h[12:16], h[16:20], h[20:])
}
