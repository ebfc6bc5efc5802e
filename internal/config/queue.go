package config

import (
	"net/url"
	"strings"
)

// QueueSCFPrefix starts a WXCLOUDENV_FLEET_QUEUE that names an SCF function
// (scf:NAMESPACE/FUNCTION) instead of an SQS queue URL.
const QueueSCFPrefix = "scf:"

// DefaultSCFRegion is the region of SCF's Invoke API when neither
// WXCLOUDENV_SCF_REGION nor TENCENTCLOUD_REGION is set.
const DefaultSCFRegion = "ap-guangzhou"

// DefaultSCFEndpoint is SCF's API endpoint.
const DefaultSCFEndpoint = "https://scf.tencentcloudapi.com"

// Queued reports whether scheduled fleet runs plan batches onto a queue
// (docs/queue.md) instead of checking the fleet in one invocation.
func (c *Config) Queued() bool { return c.FleetQueue != "" }

// SCFQueue splits an scf:NAMESPACE/FUNCTION queue into its parts; ok is
// false for an SQS queue URL or an empty queue.
func (c *Config) SCFQueue() (namespace, function string, ok bool) {
	rest, found := strings.CutPrefix(c.FleetQueue, QueueSCFPrefix)
	if !found {
		return "", "", false
	}
	namespace, function, found = strings.Cut(rest, "/")
	return namespace, function, found
}

// validateQueue checks WXCLOUDENV_FLEET_QUEUE and the variables that go
// with it.
func (c *Config) validateQueue() error {
	if c.FleetBatch < 1 || c.FleetBatch > MaxFleetBatch {
		return &Error{Variable: "WXCLOUDENV_FLEET_BATCH", Problem: "must be between 1 and 1000"}
	}
	if c.SCFEndpoint != "" && !httpURL(c.SCFEndpoint) {
		return &Error{Variable: "WXCLOUDENV_SCF_ENDPOINT", Problem: "want an absolute http or https URL with no user info"}
	}
	if c.SCFRegion != "" && !validID(c.SCFRegion, 64, true) {
		return &Error{Variable: "WXCLOUDENV_SCF_REGION", Problem: "want a region name such as ap-guangzhou"}
	}
	q := c.FleetQueue
	if q == "" {
		return nil
	}
	if strings.HasPrefix(q, QueueSCFPrefix) {
		ns, fn, ok := c.SCFQueue()
		if !ok || !validID(ns, 64, true) || !validID(fn, 64, true) {
			return &Error{Variable: "WXCLOUDENV_FLEET_QUEUE", Problem: "want scf:NAMESPACE/FUNCTION with names of A-Z, a-z, 0-9, _ and -"}
		}
	} else if !httpURL(q) {
		return &Error{Variable: "WXCLOUDENV_FLEET_QUEUE", Problem: "want an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME) or scf:NAMESPACE/FUNCTION"}
	}
	if c.StoreScheme() == "memory" {
		return &Error{Variable: "WXCLOUDENV_FLEET_QUEUE", Problem: "a queue needs a store that every instance shares, but WXCLOUDENV_STORE is memory; set WXCLOUDENV_STORE to redis://, rediss:// or dynamodb://TABLE"}
	}
	return nil
}

// httpURL reports whether raw is an absolute http or https URL with a host
// and no user info.
func httpURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}
