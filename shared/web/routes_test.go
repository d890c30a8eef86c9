package web_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/unbundled/unbundled/shared/web"
)

// routesInCode lists web.Routes as sorted "METHOD /path Function" lines.
func routesInCode(t *testing.T) []string {
	t.Helper()
	var inCode []string
	for _, r := range web.Routes() {
		inCode = append(inCode, r.Method+" "+r.Path+" "+r.Function)
		if strings.HasPrefix(r.Path, "/_local") {
			t.Errorf("local-only route %s in the public route table", r.Path)
		}
	}
	slices.Sort(inCode)
	return inCode
}

// TestRoutesMatchTemplate fails when template.yaml's HttpApi events and
// web.Routes differ, so the deployed API and the local server cannot drift.
func TestRoutesMatchTemplate(t *testing.T) {
	data, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Resources map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				Events map[string]struct {
					Type       string `yaml:"Type"`
					Properties struct {
						Method string `yaml:"Method"`
						Path   string `yaml:"Path"`
						Auth   struct {
							Authorizer string `yaml:"Authorizer"`
						} `yaml:"Auth"`
					} `yaml:"Properties"`
				} `yaml:"Events"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(data, &tpl); err != nil {
		t.Fatalf("parse template.yaml: %v", err)
	}
	var inTemplate []string
	for id, res := range tpl.Resources {
		if res.Type != "AWS::Serverless::Function" {
			continue
		}
		for _, ev := range res.Properties.Events {
			if ev.Type != "HttpApi" {
				continue
			}
			inTemplate = append(inTemplate, strings.ToUpper(ev.Properties.Method)+" "+ev.Properties.Path+" "+id)
			// Admin routes answer the operator only: IAM-authorised on AWS.
			// Public routes must stay open to visitors and mail providers.
			admin := web.Route{Path: ev.Properties.Path}.Admin()
			if got := ev.Properties.Auth.Authorizer; admin && got != "AWS_IAM" || !admin && got != "" {
				t.Errorf("template.yaml %s %s: Authorizer %q, want %q", ev.Properties.Method, ev.Properties.Path, got, map[bool]string{true: "AWS_IAM"}[admin])
			}
		}
	}
	if len(inTemplate) == 0 {
		t.Fatal("found no HttpApi events in template.yaml")
	}
	slices.Sort(inTemplate)
	if inCode := routesInCode(t); !slices.Equal(inTemplate, inCode) {
		t.Errorf("routes differ:\ntemplate.yaml: %v\nweb.Routes:    %v", inTemplate, inCode)
	}
}

// TestRoutesMatchREADME fails when the "| method | path | function |" table
// at the top of README.md's Endpoints section and web.Routes differ.
func TestRoutesMatchREADME(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	inREADME, err := readmeRoutes(data)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(inREADME)
	if inCode := routesInCode(t); !slices.Equal(inREADME, inCode) {
		t.Errorf("routes differ:\nREADME.md:  %v\nweb.Routes: %v", inREADME, inCode)
	}
}

func TestReadmeRoutes(t *testing.T) {
	tests := []struct {
		name    string
		readme  string
		want    []string
		wantErr string
	}{
		{
			name: "table in the Endpoints section",
			readme: "# x\n## Endpoints\n\nIntro.\n\n| method | path | function |\n| --- | --- | --- |\n" +
				"| `GET` | `/a` | `AFunction` |\n|POST|/b|BFunction|\n\nAfter.\n| GET | /not-a-route | X |\n## Next\n",
			want: []string{"GET /a AFunction", "POST /b BFunction"},
		},
		{
			name:    "no Endpoints section",
			readme:  "# x\n## Other\n| method | path | function |\n| --- | --- | --- |\n| GET | /a | A |\n",
			wantErr: "no \"## Endpoints\" section",
		},
		{
			name:    "table outside the section",
			readme:  "## Endpoints\nText.\n## Next\n| method | path | function |\n| --- | --- | --- |\n| GET | /a | A |\n",
			wantErr: "no \"| method | path | function |\" table",
		},
		{
			name:    "empty table",
			readme:  "## Endpoints\n| method | path | function |\n| --- | --- | --- |\n",
			wantErr: "no rows",
		},
		{
			name:    "row with the wrong number of cells",
			readme:  "## Endpoints\n| method | path | function |\n| --- | --- | --- |\n| GET | /a |\n",
			wantErr: "want 3 (method, path, function)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readmeRoutes([]byte(tt.readme))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error: got %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// readmeRoutes returns the rows of the first "| method | path | function |"
// table in the "## Endpoints" section as "METHOD /path Function" lines.
func readmeRoutes(readme []byte) ([]string, error) {
	var (
		sawSection, inSection, inTable, found bool
		routes                                []string
	)
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "## Endpoints":
			sawSection, inSection = true, true
		case !inSection:
		case strings.HasPrefix(line, "## "):
			inSection = false
		case !found:
			if slices.Equal(tableCells(line), []string{"method", "path", "function"}) {
				found, inTable = true, true
			}
		case inTable && strings.HasPrefix(line, "|"):
			cells := tableCells(line)
			if len(cells) != 3 {
				return nil, fmt.Errorf("README.md line %d: %d cells, want 3 (method, path, function)", n, len(cells))
			}
			if strings.Trim(cells[0], "-: ") == "" {
				continue // the header separator
			}
			routes = append(routes, strings.ToUpper(cells[0])+" "+cells[1]+" "+cells[2])
		default:
			inTable = false
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	switch {
	case !sawSection:
		return nil, errors.New(`README.md: no "## Endpoints" section`)
	case !found:
		return nil, errors.New(`README.md: no "| method | path | function |" table in the Endpoints section`)
	case len(routes) == 0:
		return nil, errors.New("README.md: the Endpoints table has no rows")
	}
	return routes, nil
}

// tableCells splits a Markdown table row into its trimmed cells without
// backticks; a line that is not a row gives nil.
func tableCells(line string) []string {
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || len(line) < 2 {
		return nil
	}
	cells := strings.Split(line[1:len(line)-1], "|")
	for i, c := range cells {
		cells[i] = strings.Trim(strings.TrimSpace(c), "`")
	}
	return cells
}
