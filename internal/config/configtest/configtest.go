// Package configtest sets wxcloudenv's configuration for a test, the way a
// platform does: through the environment.
package configtest

import (
	"os"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
)

// Set unsets every configuration variable for the rest of the test, then
// sets vars. It cannot be used in parallel tests.
func Set(tb testing.TB, vars map[string]string) {
	tb.Helper()
	for _, k := range config.Variables {
		tb.Setenv(k, "")
		os.Unsetenv(k)
	}
	for k, v := range vars {
		tb.Setenv(k, v)
	}
}
