package invoke_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/wxcloudenv/wxcloudenv/internal/invoke"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat/wechattest"
)

// spoolFiles returns the contents of the spool files this process holds
// open (they are unlinked, so only /proc/self/fd reaches them).
func spoolFiles(t *testing.T) [][]byte {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd on this system")
	}
	var out [][]byte
	for _, fd := range fds {
		p := filepath.Join("/proc/self/fd", fd.Name())
		target, err := os.Readlink(p)
		if err != nil || !strings.Contains(target, "wxcloudenv-spool-") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("reading spool file %s: %v", target, err)
		}
		out = append(out, b)
	}
	return out
}

// streamHarness is a fleet harness whose spools keep only 256 bytes in
// memory, so that every answer of a fleet run goes through the spool's
// file.
func streamHarness(t *testing.T, srv *wechattest.Server) *harness {
	t.Helper()
	srv.Unauthorize(wechattest.AuthorizerAppID) // the fleet is SetFleet's alone
	hs := newHarness(t, srv, fleetEnv(srv))
	invoke.SetSpoolMem(hs.h, 256)
	return hs
}

// streamInvoke runs one invocation through InvokeStream.
func (hs *harness) stream(t *testing.T, event []byte, d time.Duration) (io.ReadCloser, error) {
	t.Helper()
	ctx := lambdacontext.NewContext(t.Context(), &lambdacontext.LambdaContext{AwsRequestID: "8f6b1c2d-test-request"})
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return hs.h.InvokeStream(ctx, event)
}

// TestFleetStreamed: a fleet run's answer read from its spool is the
// event Invoke returns: every authorizer, failed or not, with its own
// result; no secret in it or in the spool's file; the file gone once the
// answer is closed, and nothing ever left in the temporary directory.
// Not parallel: it watches the process's open files and TMPDIR.
func TestFleetStreamed(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	srv := newServer(t)
	ids := srv.SetFleet(40)
	srv.SetAuthorizer(ids[3], wechattest.Authorizer{Revoked: true})
	srv.SetAuthorizer(ids[7], wechattest.Authorizer{EnvInfoErrCode: 61007})
	srv.SetAuthorizer(ids[11], wechattest.Authorizer{Status: "HALTED"})
	hs := streamHarness(t, srv)
	schedule := readFile(t, "../../events/aws-schedule.json")
	rc, err := hs.stream(t, schedule, 20*time.Second)
	if err != nil {
		t.Fatalf("a scheduled fleet run failed: %v", err)
	}
	files := spoolFiles(t)
	if len(files) != 1 {
		t.Fatalf("%d spool files open while the answer is unread, want 1 (the event's)", len(files))
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("spool files left in TMPDIR: %v", left)
	}
	out, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if ct, ok := rc.(interface{ ContentType() string }); !ok || ct.ContentType() != "application/json" {
		t.Errorf("the answer does not say it is JSON")
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(spoolFiles(t)); n != 0 {
		t.Errorf("%d spool files still open after the answer was closed", n)
	}
	if !bytes.HasSuffix(out, files[0]) || len(out) <= 256 {
		t.Errorf("the answer (%d bytes) is not the spool's memory then its file (%d bytes)", len(out), len(files[0]))
	}
	secrets := []string{wechattest.ComponentAppSecret, wechattest.VerifyTicket, "wechattest-authorizer-token-", "wechattest-component-token-"}
	for _, id := range ids {
		secrets = append(secrets, wechattest.RefreshTokenFor(id))
	}
	for _, s := range secrets {
		if bytes.Contains(out, []byte(s)) || bytes.Contains(files[0], []byte(s)) {
			t.Errorf("the spooled event holds a secret (%.20s…)", s)
		}
	}

	ev, r := fleetResult(t, out)
	got := byAuthorizer(r)
	if r.Total != len(ids) || r.Failed != 2 || len(got) != len(ids) {
		t.Fatalf("total %d, failed %d, %d authorizers; want %d, 2, %d", r.Total, r.Failed, len(got), len(ids), len(ids))
	}
	for i, id := range ids {
		a := got[id]
		switch i {
		case 3, 7:
			if a.OK || a.Error == nil || len(a.Response) != 0 {
				t.Errorf("%s = ok %v, error %+v, want its failure", id, a.OK, a.Error)
			}
		default:
			var body struct {
				ErrCode int               `json:"errcode"`
				Infos   []json.RawMessage `json:"info_list"`
			}
			if !a.OK || json.Unmarshal(a.Response, &body) != nil || len(body.Infos) == 0 {
				t.Errorf("%s = ok %v, response %.200s; want its own answer", id, a.OK, a.Response)
			}
		}
	}
	var halted bool
	for _, a := range ev.Alerts {
		halted = halted || a.Authorizer == ids[11] && a.Status == "HALTED"
	}
	if !halted {
		t.Errorf("no alert for %s's HALTED environment", ids[11])
	}

	// Invoke (the SCF and local path) answers the same event in memory.
	hs2 := streamHarness(t, srv)
	whole, err := hs2.invoke(t, schedule, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// WeChat's rids count its requests: the two runs differ there alone.
	rid := regexp.MustCompile(`rid: [0-9a-f-]+|"rid": "[^"]*"`)
	if a, b := rid.ReplaceAll(normalize(t, whole), nil), rid.ReplaceAll(normalize(t, out), nil); !bytes.Equal(a, b) {
		i := 0
		for i < min(len(a), len(b)) && a[i] == b[i] {
			i++
		}
		t.Errorf("Invoke and InvokeStream answer differently at byte %d:\n%.300s\n%.300s", i, a[max(0, i-200):], b[max(0, i-200):])
	}
	if n := len(spoolFiles(t)); n != 0 {
		t.Errorf("%d spool files open after Invoke", n)
	}
}

// TestFleetStreamedDeadline: a deadline in the middle of a spooled run
// reports every authorizer it did not reach, beside those it did.
func TestFleetStreamedDeadline(t *testing.T) {
	srv := newServer(t)
	ids := srv.SetFleet(30)
	srv.SetLatency(wechat.GetEnvInfoPath, 150*time.Millisecond)
	hs := streamHarness(t, srv)
	hs.h.Reserve = 100 * time.Millisecond
	rc, err := hs.stream(t, readFile(t, "../../events/direct.json"), 700*time.Millisecond)
	if err != nil {
		t.Fatalf("a direct fleet run cut by its deadline failed: %v", err)
	}
	out, _ := io.ReadAll(rc)
	rc.Close()
	_, r := fleetResult(t, out)
	got := byAuthorizer(r)
	reached, cut := 0, 0
	for _, id := range ids {
		a, ok := got[id]
		switch {
		case !ok:
			t.Errorf("%s is missing from the fleet result", id)
		case a.OK:
			reached++
		case a.Error != nil && a.Error.Kind == string(wechat.KindTimeout):
			cut++
		default:
			t.Errorf("%s = %+v", id, a.Error)
		}
	}
	if reached == 0 || cut == 0 || r.Total != len(ids) || r.Failed != cut {
		t.Errorf("reached %d, cut %d, total %d, failed %d: want some of each, all counted", reached, cut, r.Total, r.Failed)
	}
	if n := len(spoolFiles(t)); n != 0 {
		t.Errorf("%d spool files open after the answer was closed", n)
	}
}

// TestFleetStreamedCompact: a scheduled run whose full event passes the
// cap answers the compact one from its spool; a direct run over the cap
// fails as it always has, and leaves no spool behind.
func TestFleetStreamedCompact(t *testing.T) {
	srv := newServer(t)
	ids := srv.SetFleet(30)
	hs := streamHarness(t, srv)
	hs.h.MaxAnswerBytes = 8 << 10 // the full event is ~15 KB, the compact one ~6 KB
	rc, err := hs.stream(t, readFile(t, "../../events/aws-schedule.json"), 20*time.Second)
	if err != nil {
		t.Fatalf("a scheduled run over the cap failed: %v", err)
	}
	out, _ := io.ReadAll(rc)
	rc.Close()
	if len(out) > hs.h.MaxAnswerBytes {
		t.Errorf("the compact event is %d bytes, over the %d cap", len(out), hs.h.MaxAnswerBytes)
	}
	ev, r := fleetResult(t, out)
	if !ev.Compact || r.Total != len(ids) {
		t.Fatalf("compact %v, total %d", ev.Compact, r.Total)
	}
	for _, a := range r.Authorizers {
		if !a.OK || a.Response != nil || a.Items != 2 {
			t.Errorf("%s = ok %v, %d bytes of response, %d items; want 2 items, no response", a.Authorizer, a.OK, len(a.Response), a.Items)
		}
	}
	rc, err = hs.stream(t, []byte(`{"operations":["getenvinfo"]}`), 20*time.Second)
	if err == nil || rc != nil || !strings.Contains(err.Error(), "synchronous answer limit") {
		t.Errorf("a direct run over the cap: %v, %v; want the cap's error", rc, err)
	}
	if n := len(spoolFiles(t)); n != 0 {
		t.Errorf("%d spool files open after runs over the cap", n)
	}
}

// TestFleetSpoolUnwritable: a spool that cannot reach its file fails the
// run with a clear error, never a truncated event.
func TestFleetSpoolUnwritable(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	srv := newServer(t)
	srv.SetFleet(20)
	hs := streamHarness(t, srv)
	rc, err := hs.stream(t, readFile(t, "../../events/aws-schedule.json"), 20*time.Second)
	if err == nil || rc != nil || !strings.Contains(err.Error(), "could not be written") {
		t.Fatalf("InvokeStream with no temporary directory: %v, %v; want a failure", rc, err)
	}
}
