package config

import (
	"strings"
	"testing"

	"github.com/unbundled/unbundled/shared/consent"
)

func TestRetentionFromEnv(t *testing.T) {
	base := map[string]string{"TABLE_NAME": "t", "MAGNETS_FILE": "m", "SIGNING_KEYS_SECRET": "s1", "SUBJECT_KEY_SECRET": "s2"}
	c, err := FromEnv(env(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Retention != consent.DefaultRetention {
		t.Errorf("no retention variables: got %+v, want the default %+v", c.Retention, consent.DefaultRetention)
	}
	set := map[string]string{EnvRetentionUnconfirmedDays: "14", EnvRetentionEvidenceDays: " 400 ", EnvRetentionWithdrawnDays: "1095"}
	for k, v := range base {
		set[k] = v
	}
	if c, err = FromEnv(env(set)); err != nil {
		t.Fatal(err)
	}
	if want := (consent.RetentionDays{Unconfirmed: 14, Evidence: 400, Withdrawn: 1095}); c.Retention.Days() != want {
		t.Errorf("retention: got %+v, want %+v", c.Retention.Days(), want)
	}
	if err := c.Retention.Check(); err != nil {
		t.Errorf("a configured policy fails its own check: %v", err)
	}
}

func TestRetentionFromEnvRejectsBadValues(t *testing.T) {
	bad := map[string]string{
		EnvRetentionUnconfirmedDays: "6", // too short to handle a complaint
		EnvRetentionEvidenceDays:    "a year",
		EnvRetentionWithdrawnDays:   "3651", // more than ten years
	}
	m := map[string]string{"TABLE_NAME": "t", "MAGNETS_FILE": "m", "SIGNING_KEYS_SECRET": "s1", "SUBJECT_KEY_SECRET": "s2"}
	for k, v := range bad {
		m[k] = v
	}
	_, err := FromEnv(env(m))
	if err == nil {
		t.Fatal("got nil error")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	for _, zero := range []string{"0", "-30"} {
		m := map[string]string{"TABLE_NAME": "t", "MAGNETS_FILE": "m", "SIGNING_KEYS_SECRET": "s1", "SUBJECT_KEY_SECRET": "s2", EnvRetentionWithdrawnDays: zero}
		if _, err := FromEnv(env(m)); err == nil || !strings.Contains(err.Error(), EnvRetentionWithdrawnDays) {
			t.Errorf("%s=%s: got %v, want an error naming it", EnvRetentionWithdrawnDays, zero, err)
		}
	}
}
