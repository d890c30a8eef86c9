package awssetup

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Storage limitation: every log the stack writes is kept for a set period.
// A Lambda function logs to /aws/lambda/<name> unless told otherwise, and
// Lambda creates that group without a retention period (kept for ever), so
// every function names a log group of the template, and every log group
// the template declares has RetentionInDays.

// templateLogProblems lists every function, HTTP API access log or log
// group in a SAM template whose logs would be kept for ever: a function
// without LoggingConfig.LogGroup set to !Ref of an AWS::Logs::LogGroup of
// the template; an API whose AccessLogSettings.DestinationArn is not
// !GetAtt <group>.Arn of one; a log group without RetentionInDays. It also
// returns how many functions it checked. An error means the template could
// not be read.
func templateLogProblems(templateYAML []byte) (problems []string, functions int, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(templateYAML, &doc); err != nil {
		return nil, 0, fmt.Errorf("parse template: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, 0, errors.New("parse template: empty document")
	}
	res := mapValue(doc.Content[0], "Resources")
	if res == nil || res.Kind != yaml.MappingNode {
		return nil, 0, errors.New("template has no Resources mapping")
	}
	groups := map[string]bool{}
	for i := 0; i+1 < len(res.Content); i += 2 {
		id, r := res.Content[i].Value, res.Content[i+1]
		if scalarValue(mapValue(r, "Type")) != "AWS::Logs::LogGroup" {
			continue
		}
		groups[id] = true
		if mapValue(mapValue(r, "Properties"), "RetentionInDays") == nil {
			problems = append(problems, fmt.Sprintf("log group %s, line %d: no RetentionInDays, so its logs are kept for ever", id, r.Line))
		}
	}
	for i := 0; i+1 < len(res.Content); i += 2 {
		id, r := res.Content[i].Value, res.Content[i+1]
		props := mapValue(r, "Properties")
		switch typ := scalarValue(mapValue(r, "Type")); typ {
		case "AWS::Serverless::Function", "AWS::Lambda::Function":
			functions++
			g := mapValue(mapValue(props, "LoggingConfig"), "LogGroup")
			if g == nil || g.Tag != "!Ref" || !groups[g.Value] {
				problems = append(problems, fmt.Sprintf("function %s, line %d: LoggingConfig.LogGroup is not !Ref of a log group of this template, so Lambda logs to a group it creates without a retention period", id, r.Line))
			}
		case "AWS::Serverless::HttpApi", "AWS::Serverless::Api", "AWS::ApiGatewayV2::Stage", "AWS::ApiGateway::Stage":
			for _, key := range []string{"AccessLogSettings", "AccessLogSetting"} {
				s := mapValue(props, key)
				if s == nil {
					continue
				}
				d := mapValue(s, "DestinationArn")
				group, attr, _ := strings.Cut(scalarValue(d), ".")
				if d == nil || d.Tag != "!GetAtt" || attr != "Arn" || !groups[group] {
					problems = append(problems, fmt.Sprintf("%s %s, line %d: %s.DestinationArn is not !GetAtt <log group of this template>.Arn", typ, id, r.Line, key))
				}
			}
		}
	}
	return problems, functions, nil
}

// scalarValue is a scalar node's value (tagged or not), else "".
func scalarValue(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func TestEveryLogHasARetentionPeriod(t *testing.T) {
	tmpl, err := RepoTemplate()
	if err != nil {
		t.Fatal(err)
	}
	problems, functions, err := templateLogProblems(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if functions == 0 {
		t.Fatal("found no functions in template.yaml; the check would prove nothing")
	}
	for _, p := range problems {
		t.Errorf("template.yaml: %s", p)
	}
}

// TestTemplateLogProblems proves the check finds logs without a period.
func TestTemplateLogProblems(t *testing.T) {
	const group = "  Logs:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      RetentionInDays: 30\n"
	small := func(resources string) string { return "Resources:\n" + resources }
	for _, tc := range []struct {
		name, template string
		want           []string
	}{
		{"function with its group", small(group + "  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      LoggingConfig:\n        LogGroup: !Ref Logs\n"), nil},
		{"function without a group", small(group + "  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      LoggingConfig:\n        LogFormat: JSON\n"), []string{"function F"}},
		{"function naming a group elsewhere", small(group + "  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      LoggingConfig:\n        LogGroup: /aws/lambda/x\n"), []string{"function F"}},
		{"function naming another resource", small(group + "  Q:\n    Type: AWS::SQS::Queue\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      LoggingConfig:\n        LogGroup: !Ref Q\n"), []string{"function F"}},
		{"group without a period", small("  Logs:\n    Type: AWS::Logs::LogGroup\n    Properties: {}\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      LoggingConfig:\n        LogGroup: !Ref Logs\n"), []string{"log group Logs"}},
		{"access log to a group", small(group + "  Api:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      AccessLogSettings:\n        DestinationArn: !GetAtt Logs.Arn\n"), nil},
		{"access log elsewhere", small(group + "  Api:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      AccessLogSettings:\n        DestinationArn: arn:aws:logs:eu-west-2:1:log-group:x\n"), []string{"AWS::Serverless::HttpApi Api"}},
	} {
		problems, _, err := templateLogProblems([]byte(tc.template))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(problems) != len(tc.want) {
			t.Errorf("%s: got problems %q, want %d", tc.name, problems, len(tc.want))
			continue
		}
		for i, want := range tc.want {
			if !strings.Contains(problems[i], want) {
				t.Errorf("%s: problem %q does not name %q", tc.name, problems[i], want)
			}
		}
	}
	if _, _, err := templateLogProblems([]byte("Parameters: {}\n")); err == nil {
		t.Error("a template without Resources: got nil error")
	}
}
