package deploy

import (
	"archive/zip"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/trigger"
)

const root = "../.."

// platformVariables are the variables of a third-party platform's setup (the
// store, the push, the fleet, alerts); every one is wired on both clouds.
var platformVariables = []string{
	"WXCLOUDENV_STORE", "WXCLOUDENV_STORE_PREFIX", "WXCLOUDENV_TOKEN_LAYOUT", "WXCLOUDENV_TOKEN_KEY_PREFIX",
	"WECHAT_COMPONENT_TOKEN", "WECHAT_COMPONENT_ENCODING_AES_KEY",
	"WXCLOUDENV_AUTHORIZERS", "WXCLOUDENV_CONCURRENCY",
	"WXCLOUDENV_NOTIFY", "WXCLOUDENV_NOTIFY_DINGTALK_SECRET", "WXCLOUDENV_NOTIFY_FEISHU_SECRET", "WXCLOUDENV_NOTIFY_REPEAT",
}

// secretVariables must come from NoEcho parameters.
var secretVariables = []string{
	"WECHAT_ACCESS_TOKEN", "WECHAT_COMPONENT_ACCESS_TOKEN", "WECHAT_COMPONENT_APPSECRET", "WECHAT_COMPONENT_VERIFY_TICKET",
	"WECHAT_AUTHORIZER_REFRESH_TOKEN", "WECHAT_APPSECRET", "WXCLOUDENV_API_KEY", "WECHAT_COMPONENT_TOKEN",
	"WECHAT_COMPONENT_ENCODING_AES_KEY", "WXCLOUDENV_NOTIFY", "WXCLOUDENV_NOTIFY_DINGTALK_SECRET", "WXCLOUDENV_NOTIFY_FEISHU_SECRET",
}

// m and l walk the decoded YAML; a missing key gives an empty value.
func m(v any, keys ...string) map[string]any {
	for _, k := range keys {
		mm, _ := v.(map[string]any)
		v = mm[k]
	}
	mm, _ := v.(map[string]any)
	return mm
}

func l(v any) []any { s, _ := v.([]any); return s }

func ref(name string) map[string]any { return map[string]any{"Ref": name} }

func TestSAMTemplate(t *testing.T) {
	t.Parallel()
	raw := readYAML(t, "template.yaml")
	res := m(raw, "Resources")
	params := m(raw, "Parameters")
	fn := m(res, "WxCloudEnvFunction")
	props := m(fn, "Properties")
	if fn["Type"] != "AWS::Serverless::Function" || props["Runtime"] != "provided.al2023" || props["Handler"] != "bootstrap" || !reflect.DeepEqual(props["Architectures"], []any{"arm64"}) {
		t.Errorf("function = %v %v %v %v", fn["Type"], props["Runtime"], props["Handler"], props["Architectures"])
	}
	if m(fn, "Metadata")["BuildMethod"] != "makefile" {
		t.Errorf("Metadata = %v, want BuildMethod makefile", fn["Metadata"])
	}
	if to, _ := props["Timeout"].(int); to == 0 || to >= 30 || props["MemorySize"] == nil {
		t.Errorf("timeout %v must stay below the HTTP API's 30 s", props["Timeout"])
	}
	// The makefile target SAM calls exists.
	mk, _ := os.ReadFile(filepath.Join(root, "Makefile"))
	if !strings.Contains(string(mk), "\nbuild-WxCloudEnvFunction:") || !strings.Contains(string(mk), "$(ARTIFACTS_DIR)/bootstrap") {
		t.Error("the Makefile lacks build-WxCloudEnvFunction writing $(ARTIFACTS_DIR)/bootstrap")
	}

	// One schedule, never retried by Lambda.
	var schedules int
	for name, ev := range m(props, "Events") {
		if m(ev)["Type"] != "Schedule" {
			t.Errorf("unexpected event %s: %v (HTTP routes are AWS::ApiGatewayV2::Route resources)", name, ev)
			continue
		}
		schedules++
		if m(ev, "Properties")["Schedule"] != "rate(10 minutes)" {
			t.Errorf("schedule %s = %v, want rate(10 minutes)", name, ev)
		}
	}
	if schedules != 1 {
		t.Errorf("%d schedules, want 1", schedules)
	}
	if r, ok := m(props, "EventInvokeConfig")["MaximumRetryAttempts"]; !ok || r != 0 {
		t.Errorf("EventInvokeConfig.MaximumRetryAttempts = %v, want 0 (a failed scheduled run is reported once)", r)
	}

	// Routes: /envs switch with AuthMode, /healthz and the push are open.
	if !reflect.DeepEqual(m(params, "AuthMode")["AllowedValues"], []any{"iam", "apikey"}) {
		t.Errorf("AuthMode = %v", params["AuthMode"])
	}
	switchable := map[string]any{"Fn::If": []any{"UseIam", "AWS_IAM", "NONE"}}
	want := map[string]any{
		"GET /envs": switchable, "POST /envs": switchable, "GET /envs/{operation}": switchable,
		"GET /healthz": "NONE", "POST /wechat/authorization-events": "NONE",
		// The status page (StatusPage on): the function checks the key.
		"GET /status": "NONE", "GET /status.json": "NONE", "GET /status/authorizers/{appid}": "NONE",
	}
	// Owner robots and silences switch too; the function also asks for the key.
	want["ANY /authorizers/{appid}/robots"] = switchable
	want["ANY /silences"] = switchable
	want["DELETE /silences/{id}"] = switchable
	got := map[string]any{}
	for name, r := range res {
		if m(r)["Type"] != "AWS::ApiGatewayV2::Route" {
			continue
		}
		p := m(r, "Properties")
		if strings.HasPrefix(p["RouteKey"].(string), "GET /status") && m(r)["Condition"] != "StatusPageOn" {
			t.Errorf("route %s is not conditional on StatusPage", name)
		}
		got[p["RouteKey"].(string)] = p["AuthorizationType"]
		if !reflect.DeepEqual(p["Target"], map[string]any{"Fn::Sub": "integrations/${WxCloudEnvIntegration}"}) || !reflect.DeepEqual(p["ApiId"], ref("WxCloudEnvApi")) {
			t.Errorf("route %s does not reach the function: %v", name, p)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes and their authorization:\n got %v\nwant %v", got, want)
	}
	if c := m(raw, "Conditions")["UseIam"]; !reflect.DeepEqual(c, map[string]any{"Fn::Equals": []any{ref("AuthMode"), "iam"}}) {
		t.Errorf("UseIam = %v", c)
	}
	if m(raw, "Rules", "StatusPageNeedsKey") == nil {
		t.Error("no rule requires ApiKey with StatusPage on")
	}
	if m(raw, "Rules", "ApiKeyMode") == nil {
		t.Error("no rule requires ApiKey with AuthMode apikey")
	}
	integ := m(res, "WxCloudEnvIntegration", "Properties")
	if integ["PayloadFormatVersion"] != "2.0" || integ["IntegrationType"] != "AWS_PROXY" {
		t.Errorf("integration = %v", integ)
	}

	// Every variable is wired, every secret from a NoEcho parameter.
	vars := m(props, "Environment", "Variables")
	for _, v := range append(slices.Clone(config.Variables), platformVariables...) {
		if v == "WECHAT_MAX_RESPONSE_BYTES" {
			continue
		}
		if _, ok := vars[v]; !ok {
			t.Errorf("template does not set %s", v)
		}
	}
	for _, v := range secretVariables {
		pname, _ := m(vars[v])["Ref"].(string)
		if p := m(params, pname); p == nil || p["NoEcho"] != true {
			t.Errorf("%s does not come from a NoEcho parameter (%v)", v, vars[v])
		}
	}
	if p := m(params, "StoreUrl"); p["NoEcho"] != true {
		t.Error("StoreUrl (a Redis URL holds a password) is not NoEcho")
	}

	// The store: the table, exactly the actions the code uses, the URL.
	table := m(res, "StoreTable")
	tp := m(table, "Properties")
	if table["Type"] != "AWS::DynamoDB::Table" || tp["BillingMode"] != "PAY_PER_REQUEST" ||
		!reflect.DeepEqual(tp["KeySchema"], []any{map[string]any{"AttributeName": "pk", "KeyType": "HASH"}}) ||
		!reflect.DeepEqual(tp["AttributeDefinitions"], []any{map[string]any{"AttributeName": "pk", "AttributeType": "S"}}) ||
		!reflect.DeepEqual(tp["TimeToLiveSpecification"], map[string]any{"AttributeName": "expires_at", "Enabled": true}) {
		t.Errorf("store table = %v", table)
	}
	var statements []any
	for _, p := range l(props["Policies"]) {
		statements = append(statements, l(m(p)["Statement"])...)
	}
	wantStatement := map[string]any{"Effect": "Allow", "Resource": map[string]any{"Fn::GetAtt": []any{"StoreTable", "Arn"}},
		"Action": []any{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:Scan"}}
	if len(statements) != 1 || !reflect.DeepEqual(statements[0], wantStatement) {
		t.Errorf("policy statements = %v, want only %v", statements, wantStatement)
	}
	if s := vars["WXCLOUDENV_STORE"]; !reflect.DeepEqual(s, map[string]any{"Fn::If": []any{"HasStoreUrl", ref("StoreUrl"), map[string]any{"Fn::Sub": "dynamodb://${StoreTable}"}}}) {
		t.Errorf("WXCLOUDENV_STORE = %v", s)
	}

	// Alarms: the EMF metrics and Errors, each to the topic and back.
	metrics := map[string]bool{}
	for name, r := range res {
		if m(r)["Type"] != "AWS::CloudWatch::Alarm" {
			continue
		}
		p := m(r, "Properties")
		metrics[p["Namespace"].(string)+"/"+p["MetricName"].(string)] = true
		topic := []any{ref("AlertTopic")}
		if !reflect.DeepEqual(p["AlarmActions"], topic) || !reflect.DeepEqual(p["OKActions"], topic) {
			t.Errorf("alarm %s notifies %v / %v, want the topic", name, p["AlarmActions"], p["OKActions"])
		}
		if p["Namespace"] == "AWS/SQS" {
			continue // the queued fleet's dead-letter alarm (TestQueueTemplate)
		}
		if dims := []any{map[string]any{"Name": "FunctionName", "Value": ref("WxCloudEnvFunction")}}; !reflect.DeepEqual(p["Dimensions"], dims) {
			t.Errorf("alarm %s dimensions %v, want only FunctionName (the EMF dimension set)", name, p["Dimensions"])
		}
		if p["MetricName"] == "FailedAuthorizers" && !reflect.DeepEqual(p["Threshold"], ref("FailedAuthorizersThreshold")) {
			t.Errorf("FailedAuthorizers threshold = %v, want the parameter", p["Threshold"])
		}
		// A ticket older than an hour alarms (docs/when-tokens-break.md).
		if p["MetricName"] == "VerifyTicketAgeSeconds" && (fmt.Sprint(p["Threshold"]) != "3600" || p["ComparisonOperator"] != "GreaterThanThreshold" || p["Statistic"] != "Maximum") {
			t.Errorf("VerifyTicketAgeSeconds alarm = %v, want Maximum > 3600", p)
		}
		if p["MetricName"] == "QuotaRemainingPercent" && (fmt.Sprint(p["Threshold"]) != "10" || p["ComparisonOperator"] != "LessThanThreshold" || p["Statistic"] != "Minimum") {
			t.Errorf("QuotaRemainingPercent alarm = %v, want Minimum < 10", p)
		}
	}
	for _, want := range []string{"AWS/Lambda/Errors", "wxcloudenv/Alerts", "wxcloudenv/FailedOperations", "wxcloudenv/Authorizers", "wxcloudenv/FailedAuthorizers",
		"wxcloudenv/VerifyTicketAgeSeconds", "wxcloudenv/QuotaRemainingPercent"} {
		if !metrics[want] {
			t.Errorf("no alarm on %s (have %v)", want, metrics)
		}
	}
	sub := m(res, "AlertEmailSubscription", "Properties")
	if sub["Protocol"] != "email" || !reflect.DeepEqual(sub["Endpoint"], ref("AlertEmail")) || !reflect.DeepEqual(sub["TopicArn"], ref("AlertTopic")) {
		t.Errorf("subscription = %v", sub)
	}
	if _, ok := m(params, "AlertEmail")["Default"]; ok {
		t.Error("AlertEmail has a default: a deploy without it would alarm nobody")
	}

	// Stateful resources say what happens to them (cfn-lint I3011).
	for name, r := range res {
		switch m(r)["Type"] {
		case "AWS::DynamoDB::Table", "AWS::Logs::LogGroup", "AWS::EC2::EIP":
			if m(r)["DeletionPolicy"] == nil || m(r)["UpdateReplacePolicy"] == nil {
				t.Errorf("%s lacks DeletionPolicy/UpdateReplacePolicy", name)
			}
		}
	}
	if table["DeletionPolicy"] != "Retain" || table["UpdateReplacePolicy"] != "Retain" {
		t.Error("the store table is not retained: tokens and alert history would go with the stack")
	}

	// Fixed egress: the function runs in the VPC only when asked.
	if !reflect.DeepEqual(m(params, "FixedEgress")["AllowedValues"], []any{"none", "create", "existing"}) {
		t.Errorf("FixedEgress = %v", params["FixedEgress"])
	}
	if vpc := l(m(props["VpcConfig"])["Fn::If"]); len(vpc) != 3 || vpc[0] != "InVpc" || !reflect.DeepEqual(vpc[2], ref("AWS::NoValue")) {
		t.Errorf("VpcConfig = %v, want one only with FixedEgress", props["VpcConfig"])
	}
	if nat := m(res, "EgressNatGateway", "Properties"); !reflect.DeepEqual(nat["AllocationId"], map[string]any{"Fn::GetAtt": []any{"EgressIp", "AllocationId"}}) {
		t.Errorf("the NAT gateway does not use the Elastic IP: %v", nat)
	}
	if o := m(raw, "Outputs", "EgressIp"); o["Condition"] != "CreateEgress" {
		t.Errorf("EgressIp output = %v", o)
	}
	for _, o := range []string{"ApiUrl", "HealthUrl", "AuthorizationEventsUrl", "AlertTopicArn", "StoreTableName"} {
		if m(raw, "Outputs", o) == nil {
			t.Errorf("no %s output", o)
		}
	}
}

// TestTemplateReferences: every Ref, GetAtt, Sub variable and condition
// names something the template (or CloudFormation) defines.
func TestTemplateReferences(t *testing.T) {
	t.Parallel()
	raw := readYAML(t, "template.yaml")
	known := map[string]bool{}
	for _, sec := range []string{"Parameters", "Resources"} {
		for k := range m(raw, sec) {
			known[k] = true
		}
	}
	conditions := m(raw, "Conditions")
	subVar := regexp.MustCompile(`\$\{([A-Za-z0-9:]+)(\.[A-Za-z]+)?\}`)
	check := func(path, name string) {
		if !known[name] && !strings.HasPrefix(name, "AWS::") {
			t.Errorf("%s: %q is not defined", path, name)
		}
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				switch k {
				case "Ref":
					if s, ok := x.(string); ok {
						check(path, s)
					}
				case "Fn::GetAtt":
					if p := l(x); len(p) == 2 {
						check(path, p[0].(string))
					}
				case "Fn::Sub":
					s, _ := x.(string)
					for _, mm := range subVar.FindAllStringSubmatch(s, -1) {
						check(path, mm[1])
					}
				case "Condition":
					if s, ok := x.(string); ok && conditions[s] == nil {
						t.Errorf("%s: condition %q is not defined", path, s)
					}
				case "Fn::If":
					if p := l(x); len(p) == 3 && conditions[p[0].(string)] == nil {
						t.Errorf("%s: condition %v is not defined", path, p[0])
					}
				}
				walk(path+"."+k, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		}
	}
	for _, sec := range []string{"Resources", "Outputs", "Conditions", "Rules"} {
		walk(sec, raw[sec])
	}
	// Every condition is used (cfn-lint W8001).
	text, _ := os.ReadFile(filepath.Join(root, "template.yaml"))
	for c := range conditions {
		if strings.Count(string(text), c) < 2 {
			t.Errorf("condition %s is never used", c)
		}
	}
}

// readYAML reads a YAML file with CloudFormation's short tags (!Ref, !Sub,
// !GetAtt) turned into their long forms.
func readYAML(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	expandTags(&n)
	var out map[string]any
	if err := n.Decode(&out); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

func expandTags(n *yaml.Node) {
	for _, c := range n.Content {
		expandTags(c)
	}
	if strings.HasPrefix(n.Tag, "!") && n.Tag != "!!str" && !strings.HasPrefix(n.Tag, "!!") {
		fn := strings.TrimPrefix(n.Tag, "!")
		if fn != "Ref" {
			fn = "Fn::" + fn
		}
		inner := *n
		inner.Tag = ""
		if fn == "Fn::GetAtt" && n.Kind == yaml.ScalarNode {
			// !GetAtt A.B is the short form of [A, B].
			a, b, _ := strings.Cut(n.Value, ".")
			inner = yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: a}, {Kind: yaml.ScalarNode, Value: b}}}
		}
		*n = yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: fn}, &inner}}
	}
}

func TestServerlessYML(t *testing.T) {
	raw := readYAML(t, "serverless.yml")
	if raw["component"] != "scf" {
		t.Errorf("component = %v, want scf", raw["component"])
	}
	in := raw["inputs"].(map[string]any)
	if in["handler"] != "main" || in["runtime"] != "Go1" || in["region"] != "ap-shanghai" || in["type"] != "event" {
		t.Errorf("inputs = %v", in)
	}
	vars := in["environment"].(map[string]any)["variables"].(map[string]any)
	envRef := regexp.MustCompile(`^\$\{env:[A-Z_]+\}$`)
	for _, v := range append(slices.Clone(config.Variables), platformVariables...) {
		if v == "WECHAT_TIMEOUT" || v == "WECHAT_RETRIES" || v == "WECHAT_MAX_RESPONSE_BYTES" {
			continue
		}
		val, ok := vars[v].(string)
		if !ok || !envRef.MatchString(val) {
			t.Errorf("%s = %v, want ${env:...} from the deployer's environment", v, vars[v])
		}
	}
	var timer, http bool
	for _, e := range in["events"].([]any) {
		for kind, body := range e.(map[string]any) {
			p := body.(map[string]any)["parameters"].(map[string]any)
			switch kind {
			case "timer":
				timer = true
				cron, _ := p["cronExpression"].(string)
				fields := strings.Fields(cron)
				if len(fields) != 7 || fields[0] != "0" || strings.Contains(cron, "?") {
					t.Errorf("cron %q is not SCF's seven-field form, seconds first", cron)
				}
				if arg, _ := p["argument"].(string); arg != "" {
					if _, err := trigger.Parse([]byte(`{"Type":"Timer","TriggerName":"x","Message":` + quote(arg) + `}`)); err != nil {
						t.Errorf("the timer argument is not a valid payload: %v", err)
					}
				}
			case "http":
				http = true
			case "apigw":
				t.Error("an apigw trigger: Tencent retired API Gateway triggers in 2025")
			}
		}
	}
	if !timer || !http {
		t.Errorf("timer %v, http %v: want both", timer, http)
	}
	// Reaching WeChat from a VPC (TencentDB for Redis) and a fixed egress IP.
	if in["publicAccess"] != true {
		t.Errorf("publicAccess = %v, want true (the function must reach WeChat from inside a VPC)", in["publicAccess"])
	}
	if _, ok := in["eip"].(bool); !ok {
		t.Errorf("eip = %v, want the fixed-egress switch (a bool)", in["eip"])
	}
	text, _ := os.ReadFile(filepath.Join(root, "serverless.yml"))
	for _, want := range []string{"# vpcConfig:", "#   vpcId: ", "#   subnetId: ", `"shard":"0/2"`, `"authorizers":"all"`} {
		if !strings.Contains(string(text), want) {
			t.Errorf("serverless.yml does not show %s", want)
		}
	}
	if src := in["src"].(map[string]any)["src"]; src != "./dist/scf" {
		t.Errorf("src = %v, want ./dist/scf (what make package writes)", src)
	}
}

// TestCheckSCFEnv: `make deploy-scf` stops before `scf deploy` when a
// required variable is unset, instead of deploying empty ones.
func TestCheckSCFEnv(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	for _, tc := range []struct {
		name    string
		env     []string
		ok      bool
		missing []string
	}{
		{"nothing", nil, false, []string{"WXCLOUDENV_API_KEY", "one-of(WECHAT_ACCESS_TOKEN"}},
		{"no key", []string{"WECHAT_COMPONENT_APPSECRET=s3cr3t-value"}, false, []string{"WXCLOUDENV_API_KEY"}},
		{"no credential", []string{"WXCLOUDENV_API_KEY=k3y-value"}, false, []string{"one-of("}},
		{"empty is unset", []string{"WXCLOUDENV_API_KEY=", "WECHAT_ACCESS_TOKEN="}, false, []string{"WXCLOUDENV_API_KEY", "one-of("}},
		{"complete", []string{"WXCLOUDENV_API_KEY=k3y-value", "WECHAT_ACCESS_TOKEN=t0ken-value"}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A copy of the Makefile in an empty directory, so that no .env
			// of the developer's is read.
			dir := t.TempDir()
			mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "Makefile"), mk, 0o644)
			cmd := exec.Command("make", "-s", "-C", dir, "check-scf-env")
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, tc.env...)
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v\n%s", err, tc.ok, out)
			}
			for _, m := range tc.missing {
				if !strings.Contains(string(out), m) {
					t.Errorf("output does not name %s:\n%s", m, out)
				}
			}
			for _, secret := range []string{"s3cr3t-value", "k3y-value", "t0ken-value"} {
				if strings.Contains(string(out), secret) {
					t.Errorf("a value leaked into the output:\n%s", out)
				}
			}
		})
	}
	// And the .env the scf CLI loads counts.
	dir := t.TempDir()
	mk, _ := os.ReadFile(filepath.Join(root, "Makefile"))
	os.WriteFile(filepath.Join(dir, "Makefile"), mk, 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("WXCLOUDENV_API_KEY=k3y-value\nWECHAT_APPSECRET=s3cr3t-value\n"), 0o600)
	cmd := exec.Command("make", "-s", "-C", dir, "check-scf-env")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("with a complete .env: %v\n%s", err, out)
	}
}

func quote(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

// TestEventsAccepted: every sample in events/ is recognised and runs.
func TestEventsAccepted(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(root, "events", "*.json"))
	if len(files) < 8 {
		t.Fatalf("%d samples in events/, want one per trigger", len(files))
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if _, err := trigger.Parse(b); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
}

func TestPackage(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	dist := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "-C", root, "package", "DIST="+dist)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
	for _, z := range []struct {
		zip, name string
		machine   elf.Machine
	}{
		{"aws-lambda.zip", "bootstrap", elf.EM_AARCH64},
		{"tencent-scf.zip", "main", elf.EM_X86_64},
	} {
		r, err := zip.OpenReader(filepath.Join(dist, z.zip))
		if err != nil {
			t.Fatal(err)
		}
		if len(r.File) != 1 || r.File[0].Name != z.name || r.File[0].Mode().Perm()&0o111 == 0 {
			t.Errorf("%s holds %v, want only an executable %s at its root", z.zip, r.File, z.name)
			r.Close()
			continue
		}
		rc, _ := r.File[0].Open()
		tmp := filepath.Join(t.TempDir(), z.name)
		b := make([]byte, r.File[0].UncompressedSize64)
		if _, err := io.ReadFull(rc, b); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		r.Close()
		os.WriteFile(tmp, b, 0o755)
		f, err := elf.Open(tmp)
		if err != nil {
			t.Fatalf("%s: %v", z.name, err)
		}
		if f.Machine != z.machine || f.OSABI != elf.ELFOSABI_NONE || f.Type != elf.ET_EXEC {
			t.Errorf("%s: machine %v, OS ABI %v, type %v; want %v linux executable", z.name, f.Machine, f.OSABI, f.Type, z.machine)
		}
		if interp := f.Section(".interp"); interp != nil {
			t.Errorf("%s is dynamically linked; build with CGO_ENABLED=0", z.name)
		}
		f.Close()
	}
}
