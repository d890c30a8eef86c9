package emulators

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Paths of the pinned tools, relative to the repository root.
const (
	MotoServerPath = ".tools/venv/bin/moto_server"
	SAMPath        = ".tools/venv/bin/sam"
	CFNLintPath    = ".tools/venv/bin/cfn-lint"
	SESLocalPath   = "infra/tools/node_modules/aws-ses-v2-local/dist/cli.js"
	RIEPath        = ".tools/bin/aws-lambda-rie"
)

// RepoRoot returns the directory containing go.mod, walking up from the
// working directory (go test runs each package in its own directory).
func RepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("emulators: working directory: %w", err)
	}
	for dir := wd; ; {
		if fi, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil && !fi.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("emulators: no go.mod found in %s or any parent directory", wd)
		}
		dir = parent
	}
}

// ToolPath returns the absolute path of a pinned tool given its path relative
// to the repository root (one of the *Path constants), or an error naming the
// missing file and telling to run `make tools`.
func ToolPath(rel string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return toolPath(root, rel)
}

func toolPath(root, rel string) (string, error) {
	p := filepath.Join(root, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("emulators: %s is not installed (%s is missing): run `make tools` (bash infra/tools/install.sh) in %s", toolName(rel), p, root)
		}
		return "", fmt.Errorf("emulators: %w", err)
	}
	return p, nil
}

// toolName names the tool at rel: the npm package for a file under
// node_modules, else the file name.
func toolName(rel string) string {
	if _, after, ok := strings.Cut(rel, "node_modules/"); ok {
		pkg, _, _ := strings.Cut(after, "/")
		return pkg
	}
	return path.Base(rel)
}
