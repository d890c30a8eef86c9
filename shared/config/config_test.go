package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/unbundled/unbundled/shared/consent"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFromEnvReportsEverythingMissing(t *testing.T) {
	_, err := FromEnv(env(nil))
	if err == nil {
		t.Fatal("got nil error for an empty environment")
	}
	for _, name := range []string{"TABLE_NAME", "MAGNETS_FILE", "SIGNING_KEYS_SECRET", "SUBJECT_KEY_SECRET"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}

func TestFromEnv(t *testing.T) {
	c, err := FromEnv(env(map[string]string{
		"TABLE_NAME": "t", "MAGNETS_FILE": "magnets.json", "SIGNING_KEYS_SECRET": "s1", "SUBJECT_KEY_SECRET": "s2",
		"LAMBDA_TASK_ROOT": "/var/task", "LOG_LEVEL": "WARN", "PUBLIC_BASE_URL": "https://signup.example.com",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.MagnetsFile != "/var/task/magnets.json" || c.LogLevel != slog.LevelWarn || c.PublicBaseURL != "https://signup.example.com" || c.AllowLocalLinks {
		t.Errorf("got %+v", c)
	}
}

func TestFromEnvRejectsBadValues(t *testing.T) {
	base := map[string]string{"TABLE_NAME": "t", "MAGNETS_FILE": "m", "SIGNING_KEYS_SECRET": "s1", "SUBJECT_KEY_SECRET": "s2"}
	for name, kv := range map[string][2]string{
		"trailing slash":     {"PUBLIC_BASE_URL", "https://x.example/"},
		"not a URL":          {"PUBLIC_BASE_URL", "signup.example.com"},
		"log level":          {"LOG_LEVEL", "LOUD"},
		"local links":        {"ALLOW_LOCAL_LINKS", "yes"},
		"negative cap":       {"LIMIT_EMAILS_PER_ADDRESS", "-1"},
		"cap not number":     {"LIMIT_SIGNUPS_PER_SOURCE", "lots"},
		"zero window":        {"LIMIT_SOURCE_WINDOW", "0s"},
		"bad window":         {"LIMIT_EMAIL_WINDOW", "a day"},
		"bad form age":       {"FORM_MIN_AGE", "-2s"},
		"webhook, no secret": {"WEBHOOK_URL", "https://hooks.example.com/x"},
	} {
		m := map[string]string{kv[0]: kv[1]}
		for k, v := range base {
			m[k] = v
		}
		if _, err := FromEnv(env(m)); err == nil || !strings.Contains(err.Error(), kv[0]) {
			t.Errorf("%s: got %v, want an error naming %s", name, err, kv[0])
		}
	}
}

func TestFromEnvLimits(t *testing.T) {
	base := map[string]string{"TABLE_NAME": "t", "MAGNETS_FILE": "m", "SIGNING_KEYS_SECRET": "s1", "SUBJECT_KEY_SECRET": "s2"}
	c, err := FromEnv(env(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits != consent.DefaultLimits || c.FormMinAge != DefaultFormMinAge {
		t.Errorf("defaults: got %+v and %s, want %+v and %s", c.Limits, c.FormMinAge, consent.DefaultLimits, DefaultFormMinAge)
	}
	base["LIMIT_EMAILS_PER_ADDRESS"], base["LIMIT_EMAIL_WINDOW"] = "0", "1h"
	base["LIMIT_SIGNUPS_PER_SOURCE"], base["LIMIT_SOURCE_WINDOW"] = "100", "1m"
	base["FORM_MIN_AGE"] = "0s"
	c, err = FromEnv(env(base))
	if err != nil {
		t.Fatal(err)
	}
	want := consent.Limits{EmailsPerAddress: 0, EmailWindow: time.Hour, SignupsPerSource: 100, SourceWindow: time.Minute}
	if c.Limits != want || c.FormMinAge != 0 {
		t.Errorf("configured: got %+v and %s, want %+v and 0s", c.Limits, c.FormMinAge, want)
	}
}
