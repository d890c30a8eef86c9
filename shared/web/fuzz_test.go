package web

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/unbundled/unbundled/shared/consent"
)

// fuzzMediaTypes are the bodies FuzzDecodeSignup tries, by the fuzzer's
// kind argument.
var fuzzMediaTypes = []string{"application/x-www-form-urlencoded", "application/json"}

// FuzzDecodeSignup feeds arbitrary bodies, as a form or as JSON, to
// decodeSignup. It must never panic, must fail only with a validation error
// or a too-large body, and must grant consent only when the body carries
// marketing_consent exactly once with a consenting value. Seeds are in
// testdata/fuzz/FuzzDecodeSignup.
func FuzzDecodeSignup(f *testing.F) {
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		mediaType := fuzzMediaTypes[int(kind)%len(fuzzMediaTypes)]
		r := httptest.NewRequest("POST", "/signup", bytes.NewReader(body))
		r.Header.Set("Content-Type", mediaType)
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, maxBodyBytes)
		got, err := decodeSignup(r, mediaType)
		if err != nil {
			var verr *consent.ValidationError
			var tooBig *http.MaxBytesError
			if !errors.As(err, &verr) && !errors.As(err, &tooBig) {
				t.Fatalf("%s %q: got %T %v, want a validation error or 413", mediaType, body, err, err)
			}
			if verr != nil && len(verr.Fields) == 0 {
				t.Fatalf("%s %q: validation error names no field", mediaType, body)
			}
			return
		}
		if !got.Consent {
			return
		}
		var says bool
		if mediaType == "application/json" {
			says = jsonSaysConsentOnce(body)
		} else {
			says = formSaysConsentOnce(body)
		}
		if !says {
			t.Fatalf("%s %q: consent granted, but the body does not give it exactly once", mediaType, body)
		}
	})
}

// formSaysConsentOnce reads the body with url.ParseQuery, independently of
// the request's form parsing.
func formSaysConsentOnce(body []byte) bool {
	v, err := url.ParseQuery(string(body))
	return err == nil && len(v["marketing_consent"]) == 1 && consentValues[v["marketing_consent"][0]]
}

// jsonSaysConsentOnce walks the top-level object token by token, duplicate
// names allowed, and reports whether exactly one member is named
// marketing_consent and it is true or a consenting string.
func jsonSaysConsentOnce(body []byte) bool {
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return false
	}
	count, consenting := 0, false
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return false
		}
		name := tok.String() // before the next read voids tok
		value, err := dec.ReadValue()
		if err != nil {
			return false
		}
		if name != "marketing_consent" {
			continue
		}
		count++
		switch value.Kind() {
		case 't':
			consenting = true
		case '"':
			var s string
			tok, err := jsontext.NewDecoder(bytes.NewReader(value)).ReadToken()
			if err == nil {
				s = tok.String()
			}
			consenting = consentValues[s]
		default:
			consenting = false
		}
	}
	return count == 1 && consenting
}
