package notify_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/internal/alertstate"
	"github.com/wxcloudenv/wxcloudenv/internal/notify"
)

// storm is n authorizers failing with errcode, named "商户-i".
func storm(n, errcode int, kind string) ([]alertstate.Change, map[string]string) {
	changes := make([]alertstate.Change, n)
	names := map[string]string{}
	for i := range changes {
		id := fmt.Sprintf("wxs%05d", i)
		changes[i] = alertstate.Change{Authorizer: id, Operation: "getenvinfo", Resource: alertstate.ResourceOperation, Kind: kind,
			ErrCode: errcode, Message: "cloud development is not open", Since: since, Change: alertstate.ChangeNew}
		names[id] = fmt.Sprintf("商户-%d", i)
	}
	return changes, names
}

func TestRenderGrouped(t *testing.T) {
	t.Parallel()
	changes, names := storm(2001, 85088, "permission")
	r := notify.Report{Platform: "aws-lambda", Function: "prod", Changes: changes, Names: names, GroupMin: 3}
	for _, k := range []notify.Kind{notify.WeCom, notify.DingTalk, notify.Feishu} {
		t.Run(string(k), func(t *testing.T) {
			m := notify.Render(k, r)
			lines := strings.Split(m.Text, "\n")
			if len(lines) != 2 || m.Lines != 2001 || m.Omitted != 0 {
				t.Fatalf("%d lines (Lines %d, Omitted %d), want the title and one grouped line:\n%s", len(lines), m.Lines, m.Omitted, m.Text)
			}
			want := "2001 authorizers: getenvinfo: permission errcode 85088: cloud development is not open — 商户-0 (wxs00000), 商户-1 (wxs00001), 商户-2 (wxs00002), 商户-3 (wxs00003), 商户-4 (wxs00004) +1996 more (since 2026-11-22T08:00:00Z)"
			if !strings.Contains(lines[1], "FAILING") || !strings.HasSuffix(lines[1], want) {
				t.Fatalf("grouped line = %q\nwant it to end %q", lines[1], want)
			}
			if !strings.Contains(m.Title, "2001 new") {
				t.Fatalf("title = %q", m.Title)
			}
		})
	}
	if got := r.Incidents(); len(got) != 1 || got[0].Count != 2001 || len(got[0].Authorizers) != 100 {
		t.Fatalf("Incidents() = %d groups", len(got))
	}
}

func TestRenderGroupedOrder(t *testing.T) {
	t.Parallel()
	perm, names := storm(10, 85088, "permission")
	up, _ := storm(40, 0, "upstream")
	for i := range up {
		up[i].Authorizer = fmt.Sprintf("wxu%05d", i)
	}
	halted := []alertstate.Change{alertChange("wxH1", "e1", "HALTED", alertstate.ChangeNew), alertChange("wxH2", "e1", "HALTED", alertstate.ChangeNew),
		alertChange("wxH3", "e1", "HALTED", alertstate.ChangeNew)}
	platform := alertstate.Change{Operation: "platform:component_token", Resource: alertstate.ResourceOperation, Kind: "config",
		Message: "the component access token cannot be had: 2000 authorizer checks could not run", Since: since, Change: alertstate.ChangeNew}
	lone := failureChange("wxL", 61023, alertstate.ChangeNew)
	var changes []alertstate.Change
	changes = append(changes, halted...)
	changes = append(changes, lone)
	changes = append(changes, perm...)
	changes = append(changes, up...)
	changes = append(changes, platform)
	m := notify.Render(notify.WeCom, notify.Report{Changes: changes, Names: names, GroupMin: 3})
	lines := strings.Split(m.Text, "\n")[1:]
	want := []string{"- **PLATFORM** the component access token cannot be had: 2000 authorizer checks could not run (since",
		"- **FAILING** 40 authorizers: getenvinfo: upstream", "- **FAILING** 10 authorizers: getenvinfo: permission errcode 85088",
		"- **FAILING** wxL getenvinfo: auth errcode 61023", "- **NEW** 3 envs: getenvinfo environment HALTED: environment e1 is HALTED — e1 of wxH1, e1 of wxH2, e1 of wxH3"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), m.Text)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Fatalf("line %d = %q\nwant prefix %q", i, lines[i], w)
		}
	}
}

func TestRenderGroupMinZero(t *testing.T) {
	t.Parallel()
	changes, names := storm(4, 85088, "permission")
	m := notify.Render(notify.WeCom, notify.Report{Changes: changes, Names: names})
	if n := strings.Count(m.Text, "\n"); n != 4 || !strings.Contains(m.Text, "- **FAILING** 商户-3 (wxs00003) getenvinfo") {
		t.Fatalf("GroupMin 0 grouped:\n%s", m.Text)
	}
}

// TestRenderHostileNames: a name with markdown, tags or control characters
// cannot add a line, a link, a mention or emphasis to any robot's message.
func TestRenderHostileNames(t *testing.T) {
	t.Parallel()
	hostile := "**BOSS**\n- **RESOLVED** all fine [x](http://evil.example) <@all> <at user_id=\"all\">x</at>\x1b[2J"
	for _, grouped := range []int{0, 3} {
		changes, names := storm(3, 85088, "permission")
		for id := range names {
			names[id] = hostile
		}
		for _, k := range []notify.Kind{notify.WeCom, notify.DingTalk, notify.Feishu} {
			t.Run(fmt.Sprintf("%s/group%d", k, grouped), func(t *testing.T) {
				m := notify.Render(k, notify.Report{Changes: changes, Names: names, GroupMin: grouped})
				wantLines := 4
				if grouped > 0 {
					wantLines = 2
				}
				if n := len(strings.Split(m.Text, "\n")); n != wantLines {
					t.Fatalf("%d lines, want %d:\n%s", n, wantLines, m.Text)
				}
				bad := []string{"<@all>", "<at ", "\x1b", "\n- **RESOLVED"}
				if k != notify.Feishu { // Feishu's text messages read no markdown
					bad = append(bad, "[x]", "**BOSS", "** all")
				}
				for _, bad := range bad {
					if strings.Contains(m.Text, bad) {
						t.Fatalf("message keeps %q:\n%s", bad, m.Text)
					}
				}
				if !strings.Contains(m.Text, "BOSS") {
					t.Fatalf("the name is not shown at all:\n%s", m.Text)
				}
			})
		}
	}
}
