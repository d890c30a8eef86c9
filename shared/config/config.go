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
}

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
