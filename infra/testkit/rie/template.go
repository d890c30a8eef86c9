package rie

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Function is an AWS::Serverless::Function of a SAM template.
type Function struct {
	// Name is the logical id, e.g. SignupFunction.
	Name string
	// Routes are its HttpApi events as "METHOD /path".
	Routes []string
	// OtherEvents are the types of its other events (DynamoDB, SNS, ...).
	OtherEvents []string
	// Streams are its DynamoDB stream events.
	Streams []StreamEvent
	// Timeout and MemorySize are the function's (or Globals') values, 0 if
	// not given as plain numbers.
	Timeout, MemorySize int
	// EnvNames are the environment variables the template declares for it
	// (Globals and its own); sam local sets only these from an env file.
	EnvNames []string
}

// StreamEvent is a DynamoDB event source of a function.
type StreamEvent struct {
	// BatchSize is the most records per invocation (DynamoDB's default 100
	// if the template gives none).
	BatchSize int
	// Filters are FilterCriteria patterns; a record reaches the function if
	// any matches (all pass when there are none).
	Filters []string
}

// Functions returns every AWS::Serverless::Function in a SAM template,
// sorted by logical id. Short-form intrinsics (!Ref, !GetAtt, ...) are
// fine anywhere; an HttpApi event without a plain Method and Path is an
// error.
func Functions(templateYAML []byte) ([]Function, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(templateYAML, &doc); err != nil {
		return nil, fmt.Errorf("parse template: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, fmt.Errorf("parse template: empty document")
	}
	root := doc.Content[0]
	resources := mapValue(root, "Resources")
	if resources == nil {
		return nil, fmt.Errorf("template has no Resources")
	}
	globals := mapValue(mapValue(root, "Globals"), "Function")
	var fns []Function
	for i := 0; i+1 < len(resources.Content); i += 2 {
		name, res := resources.Content[i].Value, resources.Content[i+1]
		if scalar(mapValue(res, "Type")) != "AWS::Serverless::Function" {
			continue
		}
		props := mapValue(res, "Properties")
		fn := Function{
			Name:       name,
			Timeout:    intValue(mapValue(props, "Timeout"), mapValue(globals, "Timeout")),
			MemorySize: intValue(mapValue(props, "MemorySize"), mapValue(globals, "MemorySize")),
		}
		names := map[string]bool{}
		for _, vars := range []*yaml.Node{mapValue(mapValue(globals, "Environment"), "Variables"), mapValue(mapValue(props, "Environment"), "Variables")} {
			for _, k := range keys(vars) {
				names[k] = true
			}
		}
		for k := range names {
			fn.EnvNames = append(fn.EnvNames, k)
		}
		sort.Strings(fn.EnvNames)
		events := mapValue(props, "Events")
		for _, evName := range keys(events) {
			ev := mapValue(events, evName)
			typ := scalar(mapValue(ev, "Type"))
			evProps := mapValue(ev, "Properties")
			if typ == "DynamoDB" {
				se := StreamEvent{BatchSize: intValue(mapValue(evProps, "BatchSize"))}
				if se.BatchSize == 0 {
					se.BatchSize = 100
				}
				filters := mapValue(mapValue(evProps, "FilterCriteria"), "Filters")
				if filters != nil {
					for _, f := range filters.Content {
						pattern := scalar(mapValue(f, "Pattern"))
						if pattern == "" {
							return nil, fmt.Errorf("function %s, event %s: filter without a plain Pattern", name, evName)
						}
						se.Filters = append(se.Filters, pattern)
					}
				}
				fn.Streams = append(fn.Streams, se)
			}
			if typ != "HttpApi" {
				fn.OtherEvents = append(fn.OtherEvents, typ)
				continue
			}
			method, path := scalar(mapValue(evProps, "Method")), scalar(mapValue(evProps, "Path"))
			if method == "" || path == "" {
				return nil, fmt.Errorf("function %s, event %s: HttpApi event without a plain Method and Path", name, evName)
			}
			fn.Routes = append(fn.Routes, strings.ToUpper(method)+" "+path)
		}
		fns = append(fns, fn)
	}
	sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
	return fns, nil
}

// Env returns the environment sam local gives function fn from an env file
// such as infra/local/env.json: its "Parameters" (for every function), then its
// own section keyed by logical id. Like sam local, it keeps only variables
// the template declares; unknown lists the names it dropped.
func Env(envJSON []byte, fn Function) (env map[string]string, unknown []string, err error) {
	var file map[string]map[string]string
	if err := json.Unmarshal(envJSON, &file); err != nil {
		return nil, nil, fmt.Errorf("env file: %w", err)
	}
	declared := map[string]bool{}
	for _, n := range fn.EnvNames {
		declared[n] = true
	}
	env = map[string]string{}
	for _, section := range []string{"Parameters", fn.Name} {
		for k, v := range file[section] {
			if !declared[k] {
				unknown = append(unknown, k)
				continue
			}
			env[k] = v
		}
	}
	sort.Strings(unknown)
	return env, unknown, nil
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func keys(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var ks []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		ks = append(ks, n.Content[i].Value)
	}
	return ks
}

// scalar is the value of a plain (untagged) scalar node, else "".
func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode || strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return ""
	}
	return n.Value
}

// intValue is the first of nodes that is a plain integer, else 0.
func intValue(nodes ...*yaml.Node) int {
	for _, n := range nodes {
		if n == nil {
			continue
		}
		var v int
		if scalar(n) != "" && n.Decode(&v) == nil {
			return v
		}
		return 0 // given, but not a plain number (an intrinsic)
	}
	return 0
}
