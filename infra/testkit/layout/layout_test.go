// Package layout checks the import rules the README's Layout section promises,
// so a folder's role stays true as the code grows.
package layout

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/unbundled/unbundled"

type pkg struct {
	ImportPath string
	Name       string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func isTestOnly(path string) bool {
	return strings.HasSuffix(path, "test") || strings.Contains(path, "test/") ||
		strings.Contains(path, "/infra/testkit/")
}

func TestSharedImportsNoLambdaInfraOrTestCode(t *testing.T) {
	for _, p := range listPackages(t) {
		if !strings.HasPrefix(p.ImportPath, module+"/shared/") || isTestOnly(p.ImportPath) {
			continue
		}
		for _, dep := range p.Deps {
			switch {
			case strings.HasPrefix(dep, module+"/functions/"), strings.HasPrefix(dep, module+"/infra/"):
				t.Errorf("%s depends on %s: shared/ must not reach into functions/ or infra/", p.ImportPath, dep)
			case strings.HasPrefix(dep, module+"/") && isTestOnly(dep):
				t.Errorf("%s depends on test-only package %s", p.ImportPath, dep)
			case strings.Contains(dep, "yaml"):
				t.Errorf("%s depends on a YAML library (%s); template reading belongs to the test kit", p.ImportPath, dep)
			}
		}
	}
}

func TestProductBinariesLinkNoTestCode(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.Name != "main" || strings.Contains(p.ImportPath, "/infra/testkit/") {
			continue
		}
		if !strings.HasPrefix(p.ImportPath, module+"/functions/") && p.ImportPath != module+"/infra/local" {
			continue
		}
		for _, dep := range p.Deps {
			if (strings.HasPrefix(dep, module+"/") && isTestOnly(dep)) || strings.Contains(dep, "yaml") {
				t.Errorf("%s links %s, which is test-only", p.ImportPath, dep)
			}
		}
	}
}

func TestDomainImportsNoAWSOrHTTP(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.ImportPath != module+"/shared/consent" {
			continue
		}
		for _, dep := range p.Deps {
			if strings.Contains(dep, "aws") || dep == "net/http" {
				t.Errorf("the domain depends on %s", dep)
			}
		}
		return
	}
	t.Fatal("shared/consent not found")
}

func TestExecutablesLiveInCmdOrOwnFolder(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.Name != "main" {
			continue
		}
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		ok := strings.HasPrefix(rel, "functions/") && strings.Count(rel, "/") == 1 ||
			strings.HasPrefix(rel, "infra/cmd/") || rel == "infra/local"
		if !ok {
			t.Errorf("executable %s is neither functions/<name>, infra/cmd/<name> nor infra/local", rel)
		}
	}
}
