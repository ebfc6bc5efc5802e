package invoke

import (
	"encoding/json"
	"log"
	"log/slog"
	"strings"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/test/testkit"
)

// TestStdLogIsStructured: a line Go's standard library logs by itself (as
// net/http does for an unsolicited response) comes out as one bounded,
// scrubbed JSON line.
func TestStdLogIsStructured(t *testing.T) {
	defer slog.SetDefault(slog.Default())
	var buf testkit.SyncBuffer
	sc := wechat.NewScrubber()
	routeStdLog(NewLogger(&buf, slog.LevelInfo), sc)
	sc.Keep("stdlog-secret-token-1234")
	log.Printf("Unsolicited response received on idle HTTP channel starting with %q; err=<nil>",
		"HTTP/1.1 200 OK stdlog-secret-token-1234"+strings.Repeat("x", 5000))
	line := strings.TrimSpace(buf.String())
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("not one JSON line: %q", line)
	}
	if !strings.HasPrefix(m["msg"].(string), "Unsolicited response") || len(line) > 2*maxStdLogMessage {
		t.Errorf("line = %.200s (%d bytes)", line, len(line))
	}
	if strings.Contains(line, "stdlog-secret-token-1234") {
		t.Error("a secret reached the log")
	}
}
