package config

import (
	"errors"
	"strings"
	"testing"
)

func TestQueueVariables(t *testing.T) {
	shared := map[string]string{"WXCLOUDENV_STORE": "redis://127.0.0.1:6379/0"}
	tests := []struct {
		name     string
		vars     map[string]string
		variable string // the variable the error names; empty: valid
		also     string // another word the error must hold
	}{
		{name: "defaults", vars: map[string]string{}},
		{name: "sqs", vars: map[string]string{"WXCLOUDENV_FLEET_QUEUE": "https://sqs.ap-east-1.amazonaws.com/123456789012/wxcloudenv-fleet"}},
		{name: "scf", vars: map[string]string{"WXCLOUDENV_FLEET_QUEUE": "scf:default/wxcloudenv", "WXCLOUDENV_SCF_REGION": "ap-shanghai",
			"WXCLOUDENV_SCF_ENDPOINT": "http://127.0.0.1:9"}},
		{name: "batch bounds", vars: map[string]string{"WXCLOUDENV_FLEET_BATCH": "1000"}},
		{name: "memory store", vars: map[string]string{"WXCLOUDENV_FLEET_QUEUE": "scf:default/fn", "WXCLOUDENV_STORE": "memory"},
			variable: "WXCLOUDENV_FLEET_QUEUE", also: "WXCLOUDENV_STORE"},
		{name: "batch zero", vars: map[string]string{"WXCLOUDENV_FLEET_BATCH": "0"}, variable: "WXCLOUDENV_FLEET_BATCH"},
		{name: "batch too large", vars: map[string]string{"WXCLOUDENV_FLEET_BATCH": "1001"}, variable: "WXCLOUDENV_FLEET_BATCH"},
		{name: "not a queue", vars: map[string]string{"WXCLOUDENV_FLEET_QUEUE": "sqs-queue"}, variable: "WXCLOUDENV_FLEET_QUEUE"},
		{name: "scf without function", vars: map[string]string{"WXCLOUDENV_FLEET_QUEUE": "scf:default"}, variable: "WXCLOUDENV_FLEET_QUEUE"},
		{name: "scf bad name", vars: map[string]string{"WXCLOUDENV_FLEET_QUEUE": "scf:default/a b"}, variable: "WXCLOUDENV_FLEET_QUEUE"},
		{name: "queue with user info", vars: map[string]string{"WXCLOUDENV_FLEET_QUEUE": "https://u:p@sqs.example/1/q"}, variable: "WXCLOUDENV_FLEET_QUEUE"},
		{name: "bad endpoint", vars: map[string]string{"WXCLOUDENV_SCF_ENDPOINT": "scf.tencentcloudapi.com"}, variable: "WXCLOUDENV_SCF_ENDPOINT"},
		{name: "bad region", vars: map[string]string{"WXCLOUDENV_SCF_REGION": "ap guangzhou"}, variable: "WXCLOUDENV_SCF_REGION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{}
			for k, v := range shared {
				vars[k] = v
			}
			for k, v := range tt.vars {
				vars[k] = v
			}
			c, err := Parse(Map(vars))
			if tt.variable == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse accepted %v", tt.vars)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Variable != tt.variable || !strings.Contains(err.Error(), tt.also) {
				t.Fatalf("error %q, want one naming %s and %q", err, tt.variable, tt.also)
			}
			if c != nil {
				t.Fatal("a config beside the error")
			}
		})
	}
}

func TestQueueAccessors(t *testing.T) {
	c, err := Parse(Map(map[string]string{"WXCLOUDENV_STORE": "redis://127.0.0.1:1/0", "WXCLOUDENV_FLEET_QUEUE": "scf:ns/fn"}))
	if err != nil {
		t.Fatal(err)
	}
	ns, fn, ok := c.SCFQueue()
	if !c.Queued() || !ok || ns != "ns" || fn != "fn" || c.FleetBatch != 100 {
		t.Fatalf("Queued %v, SCFQueue %q %q %v, batch %d", c.Queued(), ns, fn, ok, c.FleetBatch)
	}
	c.FleetQueue = "https://sqs.ap-east-1.amazonaws.com/1/q"
	if _, _, ok := c.SCFQueue(); ok {
		t.Fatal("an SQS URL read as an SCF queue")
	}
}
