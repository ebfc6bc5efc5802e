package deploy

import (
	"archive/zip"
	"context"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/awslabs/goformation/v7"
	"gopkg.in/yaml.v3"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/trigger"
)

const root = "../.."

func TestSAMTemplate(t *testing.T) {
	tpl, err := goformation.Open(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatalf("goformation.Open: %v", err)
	}
	fn, err := tpl.GetServerlessFunctionWithName("WxCloudEnvFunction")
	if err != nil {
		t.Fatal(err)
	}
	if deref(fn.Runtime) != "provided.al2023" || deref(fn.Handler) != "bootstrap" || !slices.Equal(fn.Architectures, []string{"arm64"}) {
		t.Errorf("runtime %q handler %q architectures %v", deref(fn.Runtime), deref(fn.Handler), fn.Architectures)
	}
	if fn.AWSCloudFormationMetadata["BuildMethod"] != "makefile" {
		t.Errorf("Metadata = %v, want BuildMethod makefile", fn.AWSCloudFormationMetadata)
	}
	if fn.Timeout == nil || *fn.Timeout >= 30 || fn.MemorySize == nil {
		t.Errorf("timeout %v must stay below the HTTP API's 30 s", fn.Timeout)
	}
	// The makefile target SAM calls exists.
	mk, _ := os.ReadFile(filepath.Join(root, "Makefile"))
	if !strings.Contains(string(mk), "\nbuild-WxCloudEnvFunction:") || !strings.Contains(string(mk), "$(ARTIFACTS_DIR)/bootstrap") {
		t.Error("the Makefile lacks build-WxCloudEnvFunction writing $(ARTIFACTS_DIR)/bootstrap")
	}

	var schedules int
	routes := map[string]string{}
	for name, ev := range fn.Events {
		switch ev.Type {
		case "Schedule":
			schedules++
			if p := ev.Properties.ScheduleEvent; p == nil || p.Schedule != "rate(10 minutes)" {
				t.Errorf("schedule %s = %+v, want rate(10 minutes)", name, p)
			}
		case "HttpApi":
			p := ev.Properties.HttpApiEvent
			if p == nil || p.Auth == nil || deref(p.Auth.Authorizer) != "AWS_IAM" {
				t.Errorf("route %s is not guarded by IAM auth: %+v", name, p)
				continue
			}
			routes[deref(p.Method)+" "+deref(p.Path)] = name
		default:
			t.Errorf("unexpected event %s of type %s", name, ev.Type)
		}
	}
	if schedules != 1 {
		t.Errorf("%d schedules, want 1", schedules)
	}
	for _, r := range []string{"GET /envs", "POST /envs", "GET /envs/{operation}", "GET /healthz"} {
		if routes[r] == "" {
			t.Errorf("no route %s (have %v)", r, routes)
		}
	}

	// Every variable of SPEC §3 that a deployer sets is wired, and every
	// secret comes from a NoEcho parameter.
	vars := fn.Environment.Variables
	secrets := map[string]bool{"WECHAT_ACCESS_TOKEN": true, "WECHAT_COMPONENT_ACCESS_TOKEN": true, "WECHAT_COMPONENT_APPSECRET": true,
		"WECHAT_COMPONENT_VERIFY_TICKET": true, "WECHAT_AUTHORIZER_REFRESH_TOKEN": true, "WECHAT_APPSECRET": true, "WXCLOUDENV_API_KEY": true}
	raw := readYAML(t, "template.yaml")
	params := raw["Parameters"].(map[string]any)
	for _, v := range config.Variables {
		if v == "WECHAT_MAX_RESPONSE_BYTES" {
			continue
		}
		if _, ok := vars[v]; !ok {
			t.Errorf("template does not set %s", v)
		}
	}
	envRaw := raw["Resources"].(map[string]any)["WxCloudEnvFunction"].(map[string]any)["Properties"].(map[string]any)["Environment"].(map[string]any)["Variables"].(map[string]any)
	for v := range secrets {
		ref, _ := envRaw[v].(map[string]any)
		pname, _ := ref["Ref"].(string)
		p, _ := params[pname].(map[string]any)
		if p == nil || p["NoEcho"] != true {
			t.Errorf("%s does not come from a NoEcho parameter (%v)", v, envRaw[v])
		}
	}
	// SAM's AWS_IAM authorizer on an HTTP API exists only with
	// EnableIamAuthorizer (goformation's schema predates it, so it is read raw).
	if g, _ := raw["Globals"].(map[string]any)["HttpApi"].(map[string]any)["Auth"].(map[string]any); g["EnableIamAuthorizer"] != true {
		t.Error("Globals.HttpApi.Auth.EnableIamAuthorizer is not true: AWS_IAM routes would not deploy")
	}
	if _, ok := raw["Outputs"].(map[string]any)["ApiUrl"]; !ok {
		t.Error("no ApiUrl output")
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
	for _, v := range config.Variables {
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
	if src := in["src"].(map[string]any)["src"]; src != "./dist/scf" {
		t.Errorf("src = %v, want ./dist/scf (what make package writes)", src)
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

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
