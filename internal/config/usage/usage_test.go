package usage_test

import (
	"strings"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/config"
	"github.com/wxcloudenv/wxcloudenv/internal/config/usage"
)

// TestWrite: envconfig reads the same tags as Parse, so every variable is
// listed once, with its default.
func TestWrite(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	if err := usage.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, v := range config.Variables {
		if strings.Count(out, "\n"+v+" ") != 1 {
			t.Errorf("%s is listed %d times in:\n%s", v, strings.Count(out, "\n"+v+" "), out)
		}
	}
	if !strings.Contains(out, "wxcloudenv:") || !strings.Contains(out, "24h") {
		t.Errorf("defaults missing:\n%s", out)
	}
}
