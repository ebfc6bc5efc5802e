package notify_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
)

var since = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

func alertChange(auth, env, status, change string) alertstate.Change {
	return alertstate.Change{Authorizer: auth, Operation: "getenvinfo", Env: env, Resource: "environment", Status: status, Message: "environment " + env + " is " + status, Since: since, Change: change}
}

func failureChange(auth string, code int, change string) alertstate.Change {
	return alertstate.Change{Authorizer: auth, Operation: "getenvinfo", Resource: alertstate.ResourceOperation, Kind: "auth", ErrCode: code, Message: "invalid credential", Since: since, Change: change}
}

func TestRenderOrder(t *testing.T) {
	t.Parallel()
	r := notify.Report{
		Platform: "aws-lambda", Function: "wxcloudenv-prod",
		Changes: []alertstate.Change{
			alertChange("wxR", "e-res", "HALTED", alertstate.ChangeResolved),
			alertChange("wxN", "e-other", "ISOLATE", alertstate.ChangeNew),
			alertChange("wxH", "e-halted", "HALTED", alertstate.ChangeNew),
			failureChange("wxF", 61023, alertstate.ChangeResolved),
			failureChange("wxF2", 40001, alertstate.ChangeNew),
			alertChange("wxU", "e-unavail", "UNAVAILABLE", alertstate.ChangeNew),
		},
		Reminders: []alertstate.Change{alertChange("wxM", "e-remind", "HALTED", alertstate.ChangeReminder)},
	}
	wantOrder := []string{"FAILING** wxF2", "NEW** wxH", "NEW** wxU", "NEW** wxN", "STILL OPEN** wxM", "RESOLVED** wxR", "RESOLVED** wxF "}
	tests := []struct {
		kind      notify.Kind
		wantTitle string
		wantHead  string
		bullet    string
	}{
		{notify.WeCom, "wxcloudenv aws-lambda/wxcloudenv-prod: 4 new, 2 resolved, 1 reminder", "### ", "- **"},
		{notify.DingTalk, "wxcloudenv aws-lambda/wxcloudenv-prod: 4 new, 2 resolved, 1 reminder", "### ", "- **"},
		{notify.Feishu, "wxcloudenv aws-lambda/wxcloudenv-prod: 4 new, 2 resolved, 1 reminder", "", "• "},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			t.Parallel()
			m := notify.Render(tt.kind, r)
			if m.Title != tt.wantTitle {
				t.Errorf("Title = %q, want %q", m.Title, tt.wantTitle)
			}
			lines := strings.Split(m.Text, "\n")
			if lines[0] != tt.wantHead+tt.wantTitle {
				t.Errorf("first line = %q, want %q", lines[0], tt.wantHead+tt.wantTitle)
			}
			if len(lines)-1 != len(wantOrder) || m.Lines != len(wantOrder) || m.Omitted != 0 {
				t.Fatalf("%d lines (Lines %d, Omitted %d), want %d:\n%s", len(lines)-1, m.Lines, m.Omitted, len(wantOrder), m.Text)
			}
			for i, w := range wantOrder {
				w = strings.ReplaceAll(w, "** ", " ")
				w = strings.TrimPrefix(w, "")
				label, who, _ := strings.Cut(w, " wx")
				if !strings.HasPrefix(lines[i+1], tt.bullet+label) || !strings.Contains(lines[i+1], " wx"+who) {
					t.Errorf("line %d = %q, want %q then %q", i+1, lines[i+1], tt.bullet+label, "wx"+who)
				}
			}
			if !strings.Contains(m.Text, "auth errcode 40001: invalid credential (since 2026-11-22T08:00:00Z)") {
				t.Errorf("failure line lacks kind, errcode, message or since:\n%s", m.Text)
			}
		})
	}
}

var moreRE = regexp.MustCompile(`… and (\d+) more$`)

// checkMessage checks the rules every rendered message keeps.
func checkMessage(t *testing.T, k notify.Kind, m notify.Message, total int) {
	t.Helper()
	if !utf8.ValidString(m.Text) || !utf8.ValidString(m.Title) {
		t.Fatalf("%s: message is not valid UTF-8", k)
	}
	switch k {
	case notify.WeCom:
		if len(m.Text) > notify.WeComMaxContent {
			t.Errorf("wecom: content %d bytes, over %d", len(m.Text), notify.WeComMaxContent)
		}
	case notify.DingTalk:
		b, _ := json.Marshal(m.Text)
		if len(b)-2 > notify.DingTalkMaxText {
			t.Errorf("dingtalk: escaped text %d bytes, over %d", len(b)-2, notify.DingTalkMaxText)
		}
	case notify.Feishu:
		b, _ := json.Marshal(map[string]any{"timestamp": "1700000000", "sign": strings.Repeat("x", 44), "msg_type": "text", "content": map[string]string{"text": m.Text}})
		if len(b) > notify.FeishuMaxBody {
			t.Errorf("feishu: body %d bytes, over %d", len(b), notify.FeishuMaxBody)
		}
	}
	if m.Lines+m.Omitted != total {
		t.Errorf("%s: Lines %d + Omitted %d != %d", k, m.Lines, m.Omitted, total)
	}
	lines := strings.Split(m.Text, "\n")
	shown := len(lines) - 1
	if g := moreRE.FindStringSubmatch(m.Text); g != nil {
		n, _ := strconv.Atoi(g[1])
		shown--
		if n != total-shown || n != m.Omitted {
			t.Errorf("%s: \"… and %d more\" with %d of %d shown (Omitted %d)", k, n, shown, total, m.Omitted)
		}
	} else if shown != total {
		t.Errorf("%s: %d lines shown of %d, and no \"… and N more\"", k, shown, total)
	}
	if shown != m.Lines {
		t.Errorf("%s: %d lines shown, Lines = %d", k, shown, m.Lines)
	}
}

func TestRenderCut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		n       int
		message string
	}{
		{name: "few", n: 3, message: "short"},
		{name: "many ascii", n: 400, message: strings.Repeat("x", 100)},
		{name: "many chinese", n: 400, message: strings.Repeat("环境已停服", 40)},
		{name: "html and quotes expand when escaped", n: 400, message: strings.Repeat(`<&>"`, 100)},
		{name: "huge lines", n: 100, message: strings.Repeat("長", 5000)},
		{name: "control characters and bad UTF-8", n: 50, message: "a\nb\r\x00c\xff\xfe\u2028d"},
	}
	for _, tt := range tests {
		for _, k := range []notify.Kind{notify.WeCom, notify.DingTalk, notify.Feishu} {
			t.Run(tt.name+"/"+string(k), func(t *testing.T) {
				t.Parallel()
				r := notify.Report{Platform: "tencent-scf", Function: "wx"}
				for i := range tt.n {
					c := alertChange(fmt.Sprintf("wx%04d", i), "env", "HALTED", alertstate.ChangeNew)
					c.Message = tt.message
					r.Changes = append(r.Changes, c)
				}
				m := notify.Render(k, r)
				checkMessage(t, k, m, tt.n)
				if tt.n >= 400 && m.Omitted == 0 {
					t.Errorf("%d long lines all fit in one %s message", tt.n, k)
				}
				if m.Lines == 0 {
					t.Errorf("no line fits: %q", m.Text)
				}
				if strings.ContainsAny(strings.SplitN(m.Text, "\n", 2)[1], "\r\x00\u2028") {
					t.Errorf("control characters kept in %q", m.Text)
				}
			})
		}
	}
}

func FuzzRender(f *testing.F) {
	f.Add("HALTED", "环境 e1 已停服", 3, uint8(0))
	f.Add("UNAVAILABLE", strings.Repeat("\xe7\x8e", 700), 200, uint8(1))
	f.Add("", "<&>\"\\\n", 900, uint8(2))
	f.Fuzz(func(t *testing.T, status, message string, n int, kind uint8) {
		if n < 0 || n > 2000 {
			return
		}
		k := []notify.Kind{notify.WeCom, notify.DingTalk, notify.Feishu}[int(kind)%3]
		r := notify.Report{Platform: status, Function: message}
		for i := range n {
			c := alertChange("wx", message, status, []string{alertstate.ChangeNew, alertstate.ChangeResolved}[i%2])
			c.Message = message
			if i%3 == 0 {
				r.Reminders = append(r.Reminders, c)
			} else {
				r.Changes = append(r.Changes, c)
			}
		}
		checkMessage(t, k, notify.Render(k, r), n)
	})
}

func BenchmarkRender(b *testing.B) {
	r := notify.Report{Platform: "aws-lambda", Function: "wxcloudenv-prod"}
	for i := range 10000 {
		r.Changes = append(r.Changes, alertChange(fmt.Sprintf("wx%05d", i), "env", "HALTED", alertstate.ChangeNew))
	}
	for _, k := range []notify.Kind{notify.WeCom, notify.DingTalk, notify.Feishu} {
		b.Run(string(k), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				notify.Render(k, r)
			}
		})
	}
}
