package e2e

import (
	"encoding/json"
	"fmt"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxcloudenv/wxcloudenv/test/runtimeapi"
	"github.com/wxcloudenv/wxcloudenv/test/testkit"
)

// binaries built once for every test.
var bootstrapBin, scfBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wxcloudenv-e2e")
	if err != nil {
		panic(err)
	}
	bootstrapBin = filepath.Join(dir, "bootstrap")
	scfBin = filepath.Join(dir, "main")
	for _, b := range []struct {
		out, pkg string
		tags     []string
	}{
		{bootstrapBin, "../../functions/aws-lambda", []string{"-tags", "lambda.norpc"}},
		{scfBin, "../../functions/tencent-scf", nil},
	} {
		args := append([]string{"build", "-trimpath"}, b.tags...)
		args = append(args, "-o", b.out, b.pkg)
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build %s: %v\n%s", b.pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// safeBuffer collects a process's output.
type safeBuffer = testkit.SyncBuffer

// start runs bin with env (and nothing else from the test's environment
// but PATH and HOME), and stops it when the test ends.
func start(t *testing.T, bin string, env map[string]string) *safeBuffer {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &safeBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), out.String())
		}
	})
	return out
}

// answer is what a function gave back for one invocation.
type answer struct {
	body        []byte
	isError     bool
	contentType string
}

// runtimeAPI is the Runtime API emulator of test/runtimeapi.
type runtimeAPI struct{ *runtimeapi.Emulator }

// invoke queues an event and waits for its answer.
func (api runtimeAPI) invoke(t *testing.T, payload []byte, timeout time.Duration) (answer, string) {
	t.Helper()
	a, id, err := api.Invoke(payload, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return answer{body: a.Body, isError: a.IsError, contentType: a.ContentType}, id
}

// startLambda runs bootstrap against a fresh Runtime API emulator.
func startLambda(t *testing.T, env map[string]string) (runtimeAPI, *safeBuffer) {
	t.Helper()
	api := runtimeAPI{runtimeapi.New()}
	t.Cleanup(api.Close)
	return api, start(t, bootstrapBin, api.Env(env))
}

// Messages of scf-go-lib's net/rpc protocol; gob matches fields by name.
type scfInvokeRequest struct {
	Payload               []byte
	RequestId             string
	TraceId               string
	Deadline              scfTimestamp
	InvokedFunctionUnique string
	ClientContext         []byte
	Namespace             string
	FunctionName          string
	FunctionVersion       string
	MemoryLimitInMb       int32
	TimeLimitInMs         int32
	Environment           string
	TencentcloudRegion    string
	TencentcloudAppID     string
	TencentcloudUin       string
	FunctionTrace         string
}

type scfTimestamp struct{ Seconds, Nanos int64 }

type scfInvokeResponse struct {
	Payload []byte
	Error   *scfInvokeError
}

type scfInvokeError struct {
	Message    string
	Type       string
	ShouldExit bool
}

type scfPing struct{}

// scfFunction is a running SCF binary and its RPC connection.
type scfFunction struct {
	client *rpc.Client
	out    *safeBuffer
	seq    atomic.Int64
}

func freePort(t *testing.T) string { return strconv.Itoa(testkit.FreePort(t)) }

// startSCF runs the SCF binary and connects to it as the platform does.
func startSCF(t *testing.T, env map[string]string) *scfFunction {
	t.Helper()
	port := freePort(t)
	full := map[string]string{"_LAMBDA_SERVER_PORT": port, "FUNCTION_NAME": "wxcloudenv", "FUNCTION_MEMORY_SIZE": "128"}
	for k, v := range env {
		full[k] = v
	}
	out := start(t, scfBin, full)
	var c *rpc.Client
	var err error
	for range 200 {
		if c, err = rpc.Dial("tcp", "127.0.0.1:"+port); err == nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("dialling the SCF function: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Call("Function.Ping", &scfPing{}, &scfPing{}); err != nil {
		t.Fatalf("Function.Ping: %v", err)
	}
	return &scfFunction{client: c, out: out}
}

// invoke calls Function.Invoke; environment, when not nil, is delivered
// with the invocation as SCF does.
func (f *scfFunction) invoke(t *testing.T, payload []byte, timeout time.Duration, environment map[string]string) (answer, string) {
	t.Helper()
	id := fmt.Sprintf("scf-request-%04d", f.seq.Add(1))
	dl := time.Now().Add(timeout)
	req := scfInvokeRequest{Payload: payload, RequestId: id, Deadline: scfTimestamp{Seconds: dl.Unix(), Nanos: int64(dl.Nanosecond())},
		FunctionName: "wxcloudenv", Namespace: "default", FunctionVersion: "$LATEST", MemoryLimitInMb: 128,
		TimeLimitInMs: int32(timeout / time.Millisecond), TencentcloudRegion: "ap-shanghai"}
	if environment != nil {
		b, _ := json.Marshal(environment)
		req.Environment = string(b)
	}
	var resp scfInvokeResponse
	if err := f.client.Call("Function.Invoke", &req, &resp); err != nil {
		t.Fatalf("Function.Invoke: %v", err)
	}
	if resp.Error != nil {
		if resp.Error.ShouldExit {
			t.Errorf("the function panicked: %s", resp.Error.Message)
		}
		return answer{body: []byte(resp.Error.Message), isError: true}, id
	}
	return answer{body: resp.Payload}, id
}
