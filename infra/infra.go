// Package infra holds what runs the product off Lambda: the sample magnet
// catalog and downloadable files embedded for the local server, plus (in
// sub-folders) the local server itself, emulator tooling and test setup.
package infra

import "embed"

// SampleMagnets is magnets.json, the sample catalog the local server uses
// when no -magnets file is given and infra/magnets.json is not found.
//
//go:embed magnets.json
var SampleMagnets []byte

// Files are the sample downloads the local server serves under /_local/files/.
//
//go:embed files
var Files embed.FS
