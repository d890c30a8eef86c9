package web_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/unbundled/unbundled/shared/web"
)

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
					} `yaml:"Properties"`
				} `yaml:"Events"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(data, &tpl); err != nil {
		t.Fatalf("parse template.yaml: %v", err)
	}
	var inTemplate, inCode []string
	for id, res := range tpl.Resources {
		if res.Type != "AWS::Serverless::Function" {
			continue
		}
		for _, ev := range res.Properties.Events {
			if ev.Type == "HttpApi" {
				inTemplate = append(inTemplate, strings.ToUpper(ev.Properties.Method)+" "+ev.Properties.Path+" "+id)
			}
		}
	}
	for _, r := range web.Routes {
		inCode = append(inCode, r.Method+" "+r.Path+" "+r.Function)
		if strings.HasPrefix(r.Path, "/_local") {
			t.Errorf("local-only route %s in the public route table", r.Path)
		}
	}
	if len(inTemplate) == 0 {
		t.Fatal("found no HttpApi events in template.yaml")
	}
	slices.Sort(inTemplate)
	slices.Sort(inCode)
	if !slices.Equal(inTemplate, inCode) {
		t.Errorf("routes differ:\ntemplate.yaml: %v\nweb.Routes:    %v", inTemplate, inCode)
	}
}
