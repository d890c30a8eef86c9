package main

import "embed"

// sampleMagnets is magnets.json, the sample catalog the local server uses
// when -magnets names no file.
//
//go:embed magnets.json
var sampleMagnets []byte

// sampleFiles are the sample downloads served under /_local/files/.
//
//go:embed files
var sampleFiles embed.FS
