package consent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/unbundled/unbundled/shared/magnet"
)

// NewWordingVersion returns the version of what m shows next to its
// checkbox. The id is "w" plus the first 32 hex digits of the SHA-256 of the
// canonical JSON of wording, privacy-policy URL, frequency and controller, so
// the same text always gets the same id and any change gets a new one.
func NewWordingVersion(m magnet.Magnet) WordingVersion {
	return newWordingVersion(m.ConsentWording, m)
}

// NewExtraWordingVersion returns the version of what m shows next to the
// checkbox of its extra purpose p: p's wording with m's privacy-policy URL,
// frequency and controller, identified as NewWordingVersion identifies
// versions (the same text always gets the same id).
func NewExtraWordingVersion(m magnet.Magnet, p magnet.ExtraPurpose) WordingVersion {
	return newWordingVersion(p.Wording, m)
}

func newWordingVersion(wording string, m magnet.Magnet) WordingVersion {
	v := WordingVersion{Wording: wording, PrivacyPolicyURL: m.PrivacyPolicyURL, Frequency: m.Frequency, Controller: m.Controller}
	canonical, _ := json.Marshal([]string{v.Wording, v.PrivacyPolicyURL, v.Frequency, v.Controller}) // strings always marshal
	sum := sha256.Sum256(canonical)
	v.ID = "w" + hex.EncodeToString(sum[:16])
	return v
}

// SameContent reports whether two versions hold the same text.
func (v WordingVersion) SameContent(o WordingVersion) bool {
	return v.ID == o.ID && v.Wording == o.Wording && v.PrivacyPolicyURL == o.PrivacyPolicyURL &&
		v.Frequency == o.Frequency && v.Controller == o.Controller
}
