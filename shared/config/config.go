// Package config reads the functions' typed configuration from an injected
// getenv, reporting every missing or invalid variable at once.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

// Lambda is the configuration every function reads at init.
type Lambda struct {
	TableName string // TABLE_NAME
	// PublicBaseURL (PUBLIC_BASE_URL, optional) starts emailed links; empty
	// means the domain API Gateway reports for each request.
	PublicBaseURL     string
	MagnetsFile       string // MAGNETS_FILE, relative to LAMBDA_TASK_ROOT unless absolute
	SigningKeysSecret string // SIGNING_KEYS_SECRET: Secrets Manager id of the link-signing keyring
	SubjectKeySecret  string // SUBJECT_KEY_SECRET: Secrets Manager id of the subscriber-id key
	LogLevel          slog.Level
	// MaxSendRate (MAX_SEND_RATE, emails per second, default 10) paces each
	// delivering instance; keep it at or below the account's SES quota.
	MaxSendRate float64
	// ConfigurationSet (SES_CONFIGURATION_SET, optional) publishes bounces
	// and complaints for the feedback function.
	ConfigurationSet string
	// Limits bound emails per address and sign-ups per source; each defaults
	// to consent.DefaultLimits: LIMIT_EMAILS_PER_ADDRESS (0 turns the cap
	// off), LIMIT_EMAIL_WINDOW, LIMIT_SIGNUPS_PER_SOURCE (0 turns it off),
	// LIMIT_SOURCE_WINDOW (durations like 24h, 10m).
	Limits consent.Limits
	// WebhookURL (WEBHOOK_URL, optional) receives a signed notification of
	// every withdrawal, objection, bounce and complaint; WebhookSecret
	// (WEBHOOK_SECRET, required with it) is the Secrets Manager id of the
	// signing secret.
	WebhookURL    string
	WebhookSecret string
	// FormMinAge (FORM_MIN_AGE, default 2s) is how old a form's signed
	// stamp must be before a sign-up from it counts; faster posts are
	// treated as bots. 0 turns the time-trap off.
	FormMinAge time.Duration
	// Retention is the storage-limitation policy, in whole days:
	// RETENTION_UNCONFIRMED_DAYS, RETENTION_EVIDENCE_DAYS and
	// RETENTION_WITHDRAWN_DAYS (see retentionFromEnv), each defaulting to
	// consent.DefaultRetention.
	Retention consent.Retention
	// AllowLocalLinks (ALLOW_LOCAL_LINKS=true) lets magnets link to the
	// local server's /_local/ sample files. Only `sam local` and the
	// runtime-emulator tests set it (infra/local/env.json): on AWS those
	// links lead nowhere, so a deployed function refuses them at start.
	AllowLocalLinks bool
}

// DefaultFormMinAge is the time-trap's default: no person fills in a form
// in under two seconds.
const DefaultFormMinAge = 2 * time.Second

// DefaultMaxSendRate is a safe pace for a new SES production account.
const DefaultMaxSendRate = 10

// FromEnv reads Lambda configuration. The error lists every problem.
func FromEnv(getenv func(string) string) (Lambda, error) {
	var errs []error
	required := func(name string) string {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			errs = append(errs, fmt.Errorf("%s is required", name))
		}
		return v
	}
	c := Lambda{
		TableName:         required("TABLE_NAME"),
		MagnetsFile:       required("MAGNETS_FILE"),
		SigningKeysSecret: required("SIGNING_KEYS_SECRET"),
		SubjectKeySecret:  required("SUBJECT_KEY_SECRET"),
		PublicBaseURL:     strings.TrimSpace(getenv("PUBLIC_BASE_URL")),
	}
	if c.PublicBaseURL != "" {
		if err := CheckBaseURL(c.PublicBaseURL); err != nil {
			errs = append(errs, fmt.Errorf("PUBLIC_BASE_URL: %w", err))
		}
	}
	c.ConfigurationSet = strings.TrimSpace(getenv("SES_CONFIGURATION_SET"))
	c.MaxSendRate = DefaultMaxSendRate
	if v := strings.TrimSpace(getenv("MAX_SEND_RATE")); v != "" {
		rate, err := strconv.ParseFloat(v, 64)
		if err != nil || rate <= 0 || rate > 10000 {
			errs = append(errs, fmt.Errorf("MAX_SEND_RATE: %q is not a number of emails per second between 0 and 10000", v))
		}
		c.MaxSendRate = rate
	}
	switch v := strings.TrimSpace(getenv("ALLOW_LOCAL_LINKS")); v {
	case "", "false":
	case "true":
		c.AllowLocalLinks = true
	default:
		errs = append(errs, fmt.Errorf("ALLOW_LOCAL_LINKS %q: want true or false", v))
	}
	c.WebhookURL = strings.TrimSpace(getenv("WEBHOOK_URL"))
	c.WebhookSecret = strings.TrimSpace(getenv("WEBHOOK_SECRET"))
	if c.WebhookURL != "" && c.WebhookSecret == "" {
		errs = append(errs, errors.New("WEBHOOK_SECRET is required with WEBHOOK_URL"))
	}
	c.Limits = consent.DefaultLimits
	c.FormMinAge = DefaultFormMinAge
	for _, v := range []struct {
		name string
		n    *int
	}{
		{"LIMIT_EMAILS_PER_ADDRESS", &c.Limits.EmailsPerAddress},
		{"LIMIT_SIGNUPS_PER_SOURCE", &c.Limits.SignupsPerSource},
	} {
		if raw := strings.TrimSpace(getenv(v.name)); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil || n < 0 || n > 1_000_000 {
				errs = append(errs, fmt.Errorf("%s: %q is not a whole number from 0 (off) to 1000000", v.name, raw))
			}
			*v.n = n
		}
	}
	for _, v := range []struct {
		name string
		d    *time.Duration
		zero bool // whether 0 is allowed
	}{
		{"LIMIT_EMAIL_WINDOW", &c.Limits.EmailWindow, false},
		{"LIMIT_SOURCE_WINDOW", &c.Limits.SourceWindow, false},
		{"FORM_MIN_AGE", &c.FormMinAge, true},
	} {
		if raw := strings.TrimSpace(getenv(v.name)); raw != "" {
			d, err := time.ParseDuration(raw)
			if err != nil || d < 0 || (d == 0 && !v.zero) || d > 31*24*time.Hour {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration like 10m or 24h, at most 744h", v.name, raw))
			}
			*v.d = d
		}
	}
	var retentionErrs []error
	c.Retention, retentionErrs = retentionFromEnv(getenv)
	errs = append(errs, retentionErrs...)
	if c.MagnetsFile != "" && !filepath.IsAbs(c.MagnetsFile) {
		if root := getenv("LAMBDA_TASK_ROOT"); root != "" {
			c.MagnetsFile = filepath.Join(root, c.MagnetsFile)
		}
	}
	if lvl := strings.TrimSpace(getenv("LOG_LEVEL")); lvl != "" {
		if err := c.LogLevel.UnmarshalText([]byte(lvl)); err != nil {
			errs = append(errs, fmt.Errorf("LOG_LEVEL: %q is not DEBUG, INFO, WARN or ERROR", lvl))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Lambda{}, fmt.Errorf("configuration: %w", err)
	}
	return c, nil
}

// CheckBaseURL accepts an absolute http(s) URL without query, fragment or
// trailing slash, such as https://signup.example.com.
func CheckBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "/") {
		return errors.New("must be an absolute http(s) URL without a trailing slash, like https://signup.example.com")
	}
	return nil
}
