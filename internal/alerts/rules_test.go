package alerts

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// runEnvs serves body as every answer and returns what the client kept of
// it with the alert rules.
func runEnvs(t *testing.T, body string) wechat.Health {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(body)) }))
	t.Cleanup(srv.Close)
	c, err := wechat.NewClient(wechat.WithBaseURLs(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Raw(t.Context(), wechat.OpDescribeCloudBaseRunEnvs, wechat.StaticTokenSource("alerts-token-0123456789"), &wechat.RawOptions{Keep: NeedsAttention})
	if err != nil {
		t.Fatalf("Raw: %v", err)
	}
	return resp.Health
}

// TestAlertRules: one alert per resource that needs attention, none for a
// healthy one.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, envs string
		want       []string // resource=status of each alert
	}{
		{"healthy", `{"env_id":"a","status":"NORMAL","databases":[{"instance_id":"d","status":"RUNNING"}],"static_storages":[{"bucket":"b","status":"online"}]}`, nil},
		{"env halted", `{"env_id":"a","status":"HALTED"}`, []string{"environment=HALTED"}},
		{"env without status", `{"env_id":"a"}`, []string{"environment="}},
		{"null env", `null`, []string{"environment="}},
		{"database unusable and overdue", `{"env_id":"a","status":"NORMAL","databases":[{"instance_id":"d1","status":"UNUSABLE"},{"instance_id":"d2","status":"OVERDUE"},{"instance_id":"d3","status":"INITIALIZING"}]}`,
			[]string{"database:d1=UNUSABLE", "database:d2=OVERDUE"}},
		{"static storage offline", `{"env_id":"a","status":"NORMAL","static_storages":[{"bucket":"b","status":"offline"}]}`, []string{"static_storage:b=offline"}},
		{"all three", `{"static_storages":[{"bucket":"b","status":"offline"}],"env_id":"a","status":"UNAVAILABLE","databases":[{"instance_id":"d","status":"UNUSABLE"}]}`,
			[]string{"environment=UNAVAILABLE", "database:d=UNUSABLE", "static_storage:b=offline"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			alerts := Of("describecloudbaserunenvs", "", runEnvs(t, `{"errcode":0,"errmsg":"ok","env_list":[`+tc.envs+`]}`))
			var got []string
			for _, a := range alerts {
				got = append(got, a.Resource+"="+a.Status)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("alerts %v, want %v", got, tc.want)
			}
		})
	}
}

// TestAlertsBounded: however many resources need attention and however
// long their ids, the alerts are at most MaxResources and a marker, with
// bounded texts.
func TestAlertsBounded(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 300)
	for _, tc := range []struct {
		name, item string
		n          int
	}{
		{"empty envs", `{}`, 100000},
		{"halted envs with long ids", `{"env_id":"` + long + `","alias":"` + long + `","status":"` + long + `"}`, 2000},
		{"databases of one env", "", 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			b.WriteString(`{"errcode":0,"errmsg":"ok","env_list":[`)
			if tc.item == "" {
				b.WriteString(`{"env_id":"e","status":"NORMAL","databases":[`)
				for i := range tc.n {
					if i > 0 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"instance_id":"d%d","status":"OVERDUE"}`, i)
				}
				b.WriteString(`]}`)
			} else {
				for i := range tc.n {
					if i > 0 {
						b.WriteByte(',')
					}
					b.WriteString(tc.item)
				}
			}
			b.WriteString(`]}`)
			alerts := Of("describecloudbaserunenvs", "", runEnvs(t, b.String()))
			if len(alerts) != wechat.MaxResources+1 {
				t.Fatalf("%d alerts, want %d and a marker", len(alerts), wechat.MaxResources)
			}
			last := alerts[len(alerts)-1]
			if want := fmt.Sprintf("and %d more", tc.n-wechat.MaxResources); last.Resource != "more" || !strings.Contains(last.Message, want) {
				t.Errorf("last alert %+v, want %q", last, want)
			}
			for _, a := range alerts {
				if len(a.Env) > wechat.MaxIDBytes || len(a.Status) > wechat.MaxStatusBytes || len(a.Message) > 3*wechat.MaxIDBytes+wechat.MaxStatusBytes+128 {
					t.Fatalf("alert not bounded: env %d, status %d, message %d bytes", len(a.Env), len(a.Status), len(a.Message))
				}
			}
		})
	}
}
