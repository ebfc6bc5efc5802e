package deploy

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// The template is checked against CloudFormation's and SAM's resource
// specification as the goformation project publishes it (a JSON schema
// generated from AWS's resource specification): testdata/cfn-schema.json
// holds the part of it that template.yaml's resource types reach. Reading
// that file and the template with yaml.v3 costs nothing to compile, where
// goformation's generated Go code took most of a cold `make test`.
//
// After adding a resource type to template.yaml, regenerate the subset:
//
//	go test ./test/deploy -run TestTemplateSchema -update-schema
//
// which downloads the pinned goformation release with `go mod download`
// (the module proxy; nothing is compiled).
var updateSchema = flag.Bool("update-schema", false, "regenerate testdata/cfn-schema.json from goformation's published schema")

// schemaSource is the goformation release whose schema the subset comes from.
const schemaSource = "github.com/awslabs/goformation/v7@v7.14.9"

const schemaFile = "testdata/cfn-schema.json"

// schema is one JSON-schema node, the subset of keywords goformation's
// schema uses.
type schema struct {
	Ref                  string             `json:"$ref,omitempty"`
	Type                 any                `json:"type,omitempty"` // a name or a list of names
	Properties           map[string]*schema `json:"properties,omitempty"`
	PatternProperties    map[string]*schema `json:"patternProperties,omitempty"`
	AdditionalProperties any                `json:"additionalProperties,omitempty"` // false or a schema
	Required             []string           `json:"required,omitempty"`
	Items                *schema            `json:"items,omitempty"`
	AnyOf                []*schema          `json:"anyOf,omitempty"`
	OneOf                []*schema          `json:"oneOf,omitempty"`
	Enum                 []any              `json:"enum,omitempty"`
}

type schemaDoc struct {
	Source      string             `json:"source"`
	Definitions map[string]*schema `json:"definitions"`
}

func loadSchema(t *testing.T) schemaDoc {
	t.Helper()
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (regenerate: go test ./test/deploy -run TestTemplateSchema -update-schema)", err)
	}
	var doc schemaDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}
	return doc
}

// regenerateSchema writes the subset of goformation's SAM schema reachable
// from types.
func regenerateSchema(t *testing.T, types []string) {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", schemaSource).Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v", schemaSource, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download: %v %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(mod.Dir, "schema", "sam.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var full struct {
		Definitions map[string]json.RawMessage `json:"definitions"`
	}
	if err := json.Unmarshal(b, &full); err != nil {
		t.Fatal(err)
	}
	sub := schemaDoc{Source: schemaSource + " schema/sam.schema.json", Definitions: map[string]*schema{}}
	var add func(name string)
	add = func(name string) {
		if _, done := sub.Definitions[name]; done {
			return
		}
		raw, ok := full.Definitions[name]
		if !ok {
			t.Fatalf("%s is not in %s's schema: not a CloudFormation or SAM resource type", name, schemaSource)
		}
		var s schema
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sub.Definitions[name] = &s
		walkRefs(&s, func(ref string) { add(strings.TrimPrefix(ref, "#/definitions/")) })
	}
	for _, ty := range types {
		add(ty)
	}
	enc, err := json.MarshalIndent(sub, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(schemaFile, append(enc, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func walkRefs(s *schema, f func(string)) {
	if s == nil {
		return
	}
	if s.Ref != "" {
		f(s.Ref)
	}
	for _, p := range s.Properties {
		walkRefs(p, f)
	}
	for _, p := range s.PatternProperties {
		walkRefs(p, f)
	}
	if m, ok := s.AdditionalProperties.(map[string]any); ok {
		b, _ := json.Marshal(m)
		var ap schema
		if json.Unmarshal(b, &ap) == nil {
			walkRefs(&ap, f)
		}
	}
	walkRefs(s.Items, f)
	for _, a := range s.AnyOf {
		walkRefs(a, f)
	}
	for _, a := range s.OneOf {
		walkRefs(a, f)
	}
}

// validator checks template values against the schema.
type validator struct {
	defs map[string]*schema
}

// isIntrinsic reports whether v is a CloudFormation function call, whose
// value is only known at deploy time.
func isIntrinsic(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

func typeNames(t any) []string {
	switch t := t.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// validate returns the problems of v against s, each prefixed with path.
func (vd validator) validate(path string, v any, s *schema) []string {
	if s == nil || isIntrinsic(v) {
		return nil
	}
	if s.Ref == "#/definitions/AWS::Serverless::Function.EventSource" {
		return vd.validateEvent(path, v)
	}
	if s.Ref != "" {
		def, ok := vd.defs[strings.TrimPrefix(s.Ref, "#/definitions/")]
		if !ok {
			return []string{path + ": the schema subset lacks " + s.Ref + " (regenerate with -update-schema)"}
		}
		return vd.validate(path, v, def)
	}
	if alts := append(slices.Clone(s.AnyOf), s.OneOf...); len(alts) > 0 {
		var best []string
		for i, a := range alts {
			p := vd.validate(path, v, a)
			if len(p) == 0 {
				return nil
			}
			if i == 0 || len(p) < len(best) {
				best = p
			}
		}
		return best
	}
	var probs []string
	if names := typeNames(s.Type); len(names) > 0 && !typeMatches(v, names) {
		return []string{fmt.Sprintf("%s: %T where the specification wants %v", path, v, names)}
	}
	if len(s.Enum) > 0 && !slices.ContainsFunc(s.Enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		probs = append(probs, fmt.Sprintf("%s: %v is not one of %v", path, v, s.Enum))
	}
	switch v := v.(type) {
	case map[string]any:
		for _, r := range s.Required {
			if _, ok := v[r]; !ok {
				probs = append(probs, path+": missing required "+r)
			}
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, ok := s.Properties[k]; ok {
				probs = append(probs, vd.validate(path+"."+k, v[k], p)...)
				continue
			}
			if pat, p := matchPattern(s.PatternProperties, k); p != nil {
				if pat == nil {
					probs = append(probs, path+": bad pattern in the schema")
				}
				probs = append(probs, vd.validate(path+"."+k, v[k], p)...)
				continue
			}
			switch ap := s.AdditionalProperties.(type) {
			case bool:
				if !ap && (s.Properties != nil || s.PatternProperties != nil) {
					probs = append(probs, path+": unknown property "+k)
				}
			case map[string]any:
				b, _ := json.Marshal(ap)
				var aps schema
				if json.Unmarshal(b, &aps) == nil {
					probs = append(probs, vd.validate(path+"."+k, v[k], &aps)...)
				}
			}
		}
	case []any:
		for i, x := range v {
			probs = append(probs, vd.validate(fmt.Sprintf("%s[%d]", path, i), x, s.Items)...)
		}
	}
	return probs
}

// matchPattern returns the schema of the first pattern property k matches.
func matchPattern(pp map[string]*schema, k string) (*regexp.Regexp, *schema) {
	for pat, p := range pp {
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, p
		}
		if re.MatchString(k) {
			return re, p
		}
	}
	return nil, nil
}

// samEvents maps a SAM function event's Type to the schema of its
// Properties (SAM chooses by Type; the schema's anyOf would accept an event
// that fits any of them).
var samEvents = map[string]string{
	"S3": "S3Event", "SNS": "SNSEvent", "SQS": "SQSEvent", "Kinesis": "KinesisEvent", "DynamoDB": "DynamoDBEvent",
	"Api": "ApiEvent", "Schedule": "ScheduleEvent", "CloudWatchEvent": "CloudWatchEventEvent",
	"CloudWatchLogs": "CloudWatchLogsEvent", "IoTRule": "IoTRuleEvent", "AlexaSkill": "AlexaSkillEvent",
	"EventBridgeRule": "EventBridgeRuleEvent", "HttpApi": "HttpApiEvent", "Cognito": "CognitoEvent",
}

func (vd validator) validateEvent(path string, v any) []string {
	ev, ok := v.(map[string]any)
	if !ok {
		return []string{path + ": an event is a mapping"}
	}
	ty, _ := ev["Type"].(string)
	name, ok := samEvents[ty]
	if !ok {
		return []string{fmt.Sprintf("%s: unknown event Type %q", path, ty)}
	}
	var probs []string
	for k := range ev {
		if k != "Type" && k != "Properties" {
			probs = append(probs, path+": unknown property "+k)
		}
	}
	return append(probs, vd.validate(path+".Properties", ev["Properties"], &schema{Ref: "#/definitions/AWS::Serverless::Function." + name})...)
}

// typeMatches accepts what CloudFormation accepts: any scalar for a scalar
// type (it converts "30" and 30 alike).
func typeMatches(v any, names []string) bool {
	for _, n := range names {
		switch n {
		case "object":
			if _, ok := v.(map[string]any); ok {
				return true
			}
		case "array":
			if _, ok := v.([]any); ok {
				return true
			}
		default:
			switch v.(type) {
			case string, int, float64, bool:
				return true
			}
		}
	}
	return false
}

// TestTemplateSchema checks every resource of template.yaml against the
// resource specification: its type exists, every property is one the type
// has, required properties are present, values have the right shape.
func TestTemplateSchema(t *testing.T) {
	t.Parallel()
	raw := readYAML(t, "template.yaml")
	resources := raw["Resources"].(map[string]any)
	var types []string
	for _, r := range resources {
		ty, _ := r.(map[string]any)["Type"].(string)
		if !slices.Contains(types, ty) {
			types = append(types, ty)
		}
	}
	sort.Strings(types)
	if *updateSchema {
		regenerateSchema(t, types)
	}
	doc := loadSchema(t)
	vd := validator{defs: doc.Definitions}
	names := make([]string, 0, len(resources))
	for n := range resources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		r := resources[name].(map[string]any)
		ty, _ := r["Type"].(string)
		def, ok := doc.Definitions[ty]
		if !ok {
			t.Errorf("%s: type %q is not in %s (a typo, or regenerate: go test ./test/deploy -run TestTemplateSchema -update-schema)", name, ty, schemaFile)
			continue
		}
		for _, p := range vd.validate(name, r, def) {
			t.Error(p)
		}
	}
}

// TestSchemaCatchesMistakes: the validator rejects what it is there to
// reject, so a passing TestTemplateSchema means something.
func TestSchemaCatchesMistakes(t *testing.T) {
	t.Parallel()
	vd := validator{defs: loadSchema(t).Definitions}
	for _, tc := range []struct {
		name, ty string
		resource string
		want     string
	}{
		{"unknown property", "AWS::DynamoDB::Table", `{"Type":"AWS::DynamoDB::Table","Properties":{"KeySchema":[],"BillingMod":"PAY_PER_REQUEST"}}`, "unknown property BillingMod"},
		{"missing required", "AWS::SNS::Subscription", `{"Type":"AWS::SNS::Subscription","Properties":{"Protocol":"email"}}`, "missing required TopicArn"},
		{"wrong shape", "AWS::CloudWatch::Alarm", `{"Type":"AWS::CloudWatch::Alarm","Properties":{"ComparisonOperator":"x","EvaluationPeriods":1,"AlarmActions":"arn"}}`, "AlarmActions"},
		{"bad policy", "AWS::DynamoDB::Table", `{"Type":"AWS::DynamoDB::Table","DeletionPolicy":"Keep","Properties":{"KeySchema":[]}}`, "Keep is not one of"},
		{"nested", "AWS::Serverless::Function", `{"Type":"AWS::Serverless::Function","Properties":{"EventInvokeConfig":{"MaximumRetryAttempt":0}}}`, "unknown property MaximumRetryAttempt"},
		{"event", "AWS::Serverless::Function", `{"Type":"AWS::Serverless::Function","Properties":{"Events":{"E":{"Type":"Schedule","Properties":{"Rate":"rate(1 hour)"}}}}}`, "Events.E.Properties: unknown property Rate"},
		{"event type", "AWS::Serverless::Function", `{"Type":"AWS::Serverless::Function","Properties":{"Events":{"E":{"Type":"Cron","Properties":{}}}}}`, "unknown event Type"},
	} {
		var r any
		if err := json.Unmarshal([]byte(tc.resource), &r); err != nil {
			t.Fatal(err)
		}
		probs := vd.validate(tc.name, r, vd.defs[tc.ty])
		if !slices.ContainsFunc(probs, func(p string) bool { return strings.Contains(p, tc.want) }) {
			t.Errorf("%s: problems %q, want one with %q", tc.name, probs, tc.want)
		}
	}
	// An intrinsic function is accepted wherever a value goes.
	var ok any
	json.Unmarshal([]byte(`{"Type":"AWS::SNS::Subscription","Properties":{"Protocol":"email","TopicArn":{"Ref":"T"},"Endpoint":{"Fn::If":["C","a","b"]}}}`), &ok)
	if p := vd.validate("ok", ok, vd.defs["AWS::SNS::Subscription"]); len(p) > 0 {
		t.Errorf("a valid resource: %q", p)
	}
}
