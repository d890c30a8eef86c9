package awssetup

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// PECR regulation 6 and SES: with open or click tracking on, SES inserts a
// tracking pixel into every email and rewrites every link through its own
// redirector, tracking readers who never consented. These tests fail if
// template.yaml turns any of that on, or adds an analytics service.

// trackingResourcePrefixes are resource types that exist to track or
// profile visitors or readers, or to serve pages through a CDN that logs
// them: none belongs in this stack.
var trackingResourcePrefixes = []string{
	"AWS::Pinpoint::", "AWS::PinpointEmail::", "AWS::RUM::", "AWS::CloudFront::",
	"AWS::Evidently::", "AWS::Personalize::",
}

// engagementEventTypes are the SES event types that exist only through
// tracking: "open" needs a pixel, "click" rewritten links. (SES spells them
// open/click in AWS::SES and OPEN/CLICK in the v2 API.)
var engagementEventTypes = []string{"open", "click"}

// templateTrackingProblems lists every setting in a CloudFormation/SAM
// template that tracks email readers or web visitors, naming the resource,
// its type and the line:
//   - an event destination (any MatchingEventTypes) with open or click, or
//     one whose list is not written out literally so it cannot be checked;
//   - a TrackingOptions.CustomRedirectDomain (the domain click tracking
//     rewrites links through);
//   - Virtual Deliverability Manager engagement metrics (EngagementMetrics,
//     which turns on open and click tracking) or Guardian's optimised
//     delivery (OptimizedSharedDelivery) set to anything but DISABLED;
//   - a resource of a type in trackingResourcePrefixes.
//
// An error means the template could not be read.
func templateTrackingProblems(templateYAML []byte) (problems []string, resources int, err error) {
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
	for i := 0; i+1 < len(res.Content); i += 2 {
		id, resource := res.Content[i].Value, res.Content[i+1]
		typ := ""
		if n := mapValue(resource, "Type"); n != nil {
			typ = n.Value
		}
		where := fmt.Sprintf("resource %s (%s)", id, typ)
		for _, prefix := range trackingResourcePrefixes {
			if strings.HasPrefix(typ, prefix) {
				problems = append(problems, fmt.Sprintf("%s, line %d: type %s* tracks or profiles people; want none in this stack", where, resource.Line, prefix))
			}
		}
		walkMappings(mapValue(resource, "Properties"), func(key string, value *yaml.Node) {
			switch key {
			case "MatchingEventTypes":
				problems = append(problems, eventTypeProblems(where, value)...)
			case "CustomRedirectDomain":
				problems = append(problems, fmt.Sprintf("%s, line %d: TrackingOptions.CustomRedirectDomain %q sets up click tracking; want none", where, value.Line, value.Value))
			case "EngagementMetrics", "OptimizedSharedDelivery":
				if value.Kind != yaml.ScalarNode || isIntrinsic(value) || !strings.EqualFold(value.Value, "DISABLED") {
					problems = append(problems, fmt.Sprintf("%s, line %d: %s is %s; want it absent or DISABLED (VDM engagement tracking)", where, value.Line, key, describe(value)))
				}
			}
		})
		resources++
	}
	return problems, resources, nil
}

// eventTypeProblems checks one MatchingEventTypes list.
func eventTypeProblems(where string, list *yaml.Node) []string {
	if list.Kind != yaml.SequenceNode || isIntrinsic(list) {
		return []string{fmt.Sprintf("%s, line %d: MatchingEventTypes is %s, not a literal list; cannot prove open and click tracking are off", where, list.Line, describe(list))}
	}
	var problems []string
	for _, item := range list.Content {
		switch {
		case item.Kind != yaml.ScalarNode || isIntrinsic(item):
			problems = append(problems, fmt.Sprintf("%s, line %d: MatchingEventTypes entry is %s; cannot prove it is not open or click", where, item.Line, describe(item)))
		case slices.Contains(engagementEventTypes, strings.ToLower(item.Value)):
			problems = append(problems, fmt.Sprintf("%s, line %d: MatchingEventTypes includes %s, which makes SES track readers; want only bounce/complaint-style events", where, item.Line, item.Value))
		}
	}
	return problems
}

// walkMappings calls visit for every key and value of every mapping in n,
// at any depth.
func walkMappings(n *yaml.Node, visit func(key string, value *yaml.Node)) {
	if n == nil {
		return
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			visit(n.Content[i].Value, n.Content[i+1])
		}
	}
	for _, c := range n.Content {
		walkMappings(c, visit)
	}
}

// isIntrinsic reports whether n is a short-form intrinsic function such as
// !Ref or !If, whose value is only known at deploy time.
func isIntrinsic(n *yaml.Node) bool {
	return strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!")
}

func describe(n *yaml.Node) string {
	switch {
	case isIntrinsic(n):
		return fmt.Sprintf("%s %s", n.Tag, n.Value)
	case n.Kind == yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	}
	return "unreadable"
}

// TestTemplateTracksNobody checks the real template.yaml.
func TestTemplateTracksNobody(t *testing.T) {
	tmpl, err := RepoTemplate()
	if err != nil {
		t.Fatal(err)
	}
	problems, resources, err := templateTrackingProblems(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if resources == 0 {
		t.Fatal("found no resources in template.yaml; the check would prove nothing")
	}
	for _, p := range problems {
		t.Errorf("template.yaml: %s", p)
	}
	// The check must see the SES settings it guards: if they move or are
	// renamed, this test needs to follow.
	for _, want := range []string{"AWS::SES::ConfigurationSet", "AWS::SES::ConfigurationSetEventDestination"} {
		if !strings.Contains(string(tmpl), "Type: "+want+"\n") {
			t.Errorf("template.yaml has no %s resource; update TestTemplateTracksNobody", want)
		}
	}
}

// TestTemplateTrackingProblems proves the check finds tracking put into a
// copy of the real template and into small templates.
func TestTemplateTrackingProblems(t *testing.T) {
	repo, err := RepoTemplate()
	if err != nil {
		t.Fatal(err)
	}
	// edit returns the real template with old replaced by repl, failing if
	// old is not there (the injection would prove nothing).
	edit := func(old, repl string) string {
		if !strings.Contains(string(repo), old) {
			t.Fatalf("template.yaml no longer contains %q; update this test", old)
		}
		return strings.Replace(string(repo), old, repl, 1)
	}
	const events = "        MatchingEventTypes:\n          - bounce\n          - complaint\n"
	const reputation = "      ReputationOptions:\n        ReputationMetricsEnabled: true\n"
	small := func(resources string) string {
		return "AWSTemplateFormatVersion: \"2010-09-09\"\nResources:\n" + resources
	}
	tests := []struct {
		name     string
		template string
		count    int      // problems expected
		want     []string // substrings the problems must contain
	}{
		{"real template", string(repo), 0, nil},
		{"open events", edit(events, events+"          - open\n"),
			1, []string{"resource FeedbackEventDestination (AWS::SES::ConfigurationSetEventDestination)", "MatchingEventTypes includes open"}},
		{"click events in capitals", edit(events, events+"          - CLICK\n"),
			1, []string{"MatchingEventTypes includes CLICK"}},
		{"event types from a parameter", edit(events, "        MatchingEventTypes: !Ref EventTypes\n"),
			1, []string{"MatchingEventTypes is !Ref EventTypes, not a literal list"}},
		{"event type from a parameter", edit(events, events+"          - !Ref ExtraEvent\n"),
			1, []string{"MatchingEventTypes entry is !Ref ExtraEvent"}},
		{"custom redirect domain", edit(reputation, reputation+"      TrackingOptions:\n        CustomRedirectDomain: click.example.com\n"),
			1, []string{`resource ConfigurationSet (AWS::SES::ConfigurationSet)`, `CustomRedirectDomain "click.example.com"`}},
		{"VDM engagement metrics", edit(reputation, reputation+"      VdmOptions:\n        DashboardOptions:\n          EngagementMetrics: ENABLED\n"),
			1, []string{`EngagementMetrics is "ENABLED"`}},
		{"VDM Guardian", edit(reputation, reputation+"      VdmOptions:\n        GuardianOptions:\n          OptimizedSharedDelivery: ENABLED\n"),
			1, []string{`OptimizedSharedDelivery is "ENABLED"`}},
		{"VDM disabled", edit(reputation, reputation+"      VdmOptions:\n        DashboardOptions:\n          EngagementMetrics: DISABLED\n"), 0, nil},
		{"account-wide VDM", small("  Vdm:\n    Type: AWS::SES::VdmAttributes\n    Properties:\n      DashboardAttributes:\n        EngagementMetrics: ENABLED\n"),
			1, []string{`resource Vdm (AWS::SES::VdmAttributes)`}},
		{"SESv2-style destination", small("  D:\n    Type: AWS::SESV2::ConfigurationSetEventDestination\n    Properties:\n      EventDestination:\n        MatchingEventTypes: [SEND, OPEN]\n"),
			1, []string{"MatchingEventTypes includes OPEN"}},
		{"Pinpoint", small("  App:\n    Type: AWS::Pinpoint::App\n    Properties:\n      Name: x\n"), 1, []string{"resource App (AWS::Pinpoint::App)"}},
		{"RUM", small("  Monitor:\n    Type: AWS::RUM::AppMonitor\n    Properties:\n      Name: x\n"), 1, []string{"type AWS::RUM::*"}},
		{"CloudFront", small("  Cdn:\n    Type: AWS::CloudFront::Distribution\n    Properties: {}\n"), 1, []string{"type AWS::CloudFront::*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := templateTrackingProblems([]byte(tt.template))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.count {
				t.Fatalf("got %d problems %q, want %d", len(got), got, tt.count)
			}
			all := strings.Join(got, "\n")
			for _, want := range tt.want {
				if !strings.Contains(all, want) {
					t.Errorf("got %q, want a problem containing %q", got, want)
				}
			}
		})
	}
}
