package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestRunEmulate(t *testing.T) {
	for _, k := range credentialVars {
		t.Setenv(k, "")
	}
	t.Setenv("WECHAT_API_BASE_URL", "")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-emulate"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	var ev map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &ev); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
	}
	if ev["ok"] != true || ev["platform"] != "local" || len(ev["results"].(map[string]any)) != 2 {
		t.Errorf("event = %v", ev)
	}
	if !strings.Contains(stderr.String(), `"msg":"invocation"`) {
		t.Errorf("no log line on stderr: %s", stderr.String())
	}
}

func TestRunEventFile(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-emulate", "-compact", "-event", "../../events/scf-function-url.json"}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), `{"isBase64Encoded":false,"statusCode":200`) {
		t.Errorf("output = %.200s", stdout.String())
	}
	if err := run([]string{"-emulate", "-payload", `{"operations":["nope"]}`}, nil, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "unknown operation") {
		t.Errorf("bad payload: err = %v", err)
	}
}
