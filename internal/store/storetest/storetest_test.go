package storetest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/wxcloudenv/wxcloudenv/internal/store"
)

// fatalRecorder is a real testing.TB whose Fatalf records the message and
// ends the goroutine, so a test can check what a helper fails with.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalOf runs fn with a recorder and returns what it failed with ("" if
// it did not).
func fatalOf(t *testing.T, fn func(tb testing.TB)) string {
	r := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r.msg
}

func TestMissingServersFailWithInstallHint(t *testing.T) {
	// t.Setenv and t.Chdir: not parallel.
	t.Setenv("PATH", t.TempDir())
	if msg := fatalOf(t, func(tb testing.TB) { StartRedis(tb) }); !strings.Contains(msg, "apt-get install -y redis-server") {
		t.Errorf("StartRedis without redis-server failed with %q, want the apt-get command", msg)
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	if msg := fatalOf(t, func(tb testing.TB) { StartDynamo(tb) }); !strings.Contains(msg, "npm ci") {
		t.Errorf("StartDynamo without node_modules failed with %q, want `npm ci`", msg)
	}
}

func TestSetenvReachesStoreOpen(t *testing.T) {
	tableURL, env := StartDynamo(t)
	Setenv(t, env)
	s, err := store.Open(tableURL) // reads the process environment
	if err != nil {
		t.Fatalf("Open(%s) = %v", tableURL, err)
	}
	defer s.Close()
	if err := s.Set(t.Context(), "k", store.Value{Data: []byte("v")}); err != nil {
		t.Fatalf("Set() = %v", err)
	}
}

func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

func TestServersStartAndStop(t *testing.T) {
	var redisAddr, dynamoAddr string
	t.Run("start", func(t *testing.T) {
		u, err := url.Parse(StartRedis(t))
		if err != nil {
			t.Fatal(err)
		}
		redisAddr = u.Host
		if !dialable(redisAddr) {
			t.Fatalf("redis-server at %s does not accept connections", redisAddr)
		}
		tableURL, env := StartDynamo(t)
		table := strings.TrimPrefix(tableURL, "dynamodb://")
		out, err := Client(env).DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatalf("DescribeTable(%s) = %v", table, err)
		}
		if k := out.Table.KeySchema; len(k) != 1 || aws.ToString(k[0].AttributeName) != "pk" {
			t.Errorf("table %s key schema = %+v, want pk alone", table, k)
		}
		ep, err := url.Parse(env["AWS_ENDPOINT_URL_DYNAMODB"])
		if err != nil {
			t.Fatal(err)
		}
		dynamoAddr = ep.Host
		// A second call shares the server and gets a table of its own.
		other, _ := StartDynamo(t)
		if other == tableURL {
			t.Errorf("two StartDynamo calls returned the same table %s", other)
		}
	})
	if redisAddr == "" || dynamoAddr == "" {
		t.Fatal("servers did not start")
	}
	for name, addr := range map[string]string{"redis-server": redisAddr, "dynalite": dynamoAddr} {
		if dialable(addr) {
			t.Errorf("%s at %s still accepts connections after its test ended", name, addr)
		}
	}
}
