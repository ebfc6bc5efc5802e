// Package storetest starts real store servers for tests: Debian's
// redis-server and npm's dynalite (a DynamoDB-compatible server), each on a
// free loopback port, stopped when the test ends. No Docker, no network
// beyond 127.0.0.1. A missing server fails the test with the command that
// installs it; it never skips.
package storetest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ReadyTimeout bounds the wait for a server to accept requests. dynalite's
// first request can take seconds on a loaded machine.
var ReadyTimeout = 60 * time.Second

// RepoRoot returns the module root: the nearest directory above the working
// directory that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("storetest: working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("storetest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("storetest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// server is a started child process.
type server struct {
	cmd    *exec.Cmd
	exited chan struct{}
	out    *tailBuffer
}

func start(name string, args []string, dir string, stdout io.Writer) (*server, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out := &tailBuffer{}
	cmd.Stderr = out
	cmd.Stdout = out
	if stdout != nil {
		cmd.Stdout = io.MultiWriter(out, stdout)
	}
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, exited: make(chan struct{}), out: out}
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

func (s *server) stop() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// tailBuffer keeps the last 4 KiB written, for failure messages.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	if len(b.b) > 4096 {
		b.b = b.b[len(b.b)-4096:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}

// StartRedis starts redis-server (no persistence) on a free loopback port
// for the rest of the test and returns its URL, redis://127.0.0.1:PORT/0.
// extraArgs go to redis-server, e.g. "--requirepass", "pw" (then put the
// password in the URL yourself: redis://:pw@127.0.0.1:PORT/0).
func StartRedis(t testing.TB, extraArgs ...string) string {
	t.Helper()
	return startRedis(t, nil, extraArgs)
}

// StartRedisTLS is StartRedis with TLS only, on a certificate for
// 127.0.0.1 made for the test and trusted by nobody. It returns
// rediss://127.0.0.1:PORT/0?skip_verify=true; drop the query to see the
// certificate refused.
func StartRedisTLS(t testing.TB, extraArgs ...string) string {
	t.Helper()
	cert, key := selfSigned(t)
	args := append([]string{"--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", cert, "--tls-auth-clients", "no"}, extraArgs...)
	return startRedis(t, &tls.Config{InsecureSkipVerify: true}, args)
}

func startRedis(t testing.TB, tlsConf *tls.Config, extraArgs []string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("storetest: redis-server is not on PATH; install it with `apt-get install -y redis-server` (.ci/run does this)")
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(t)
		portArgs := []string{"--port", strconv.Itoa(port)}
		if tlsConf != nil {
			portArgs = []string{"--port", "0", "--tls-port", strconv.Itoa(port)}
		}
		args := append(append(portArgs, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"), extraArgs...)
		// redis-server says it is ready only once it holds the port, so a
		// port taken meanwhile by another server is never mistaken for ours.
		ready := make(chan struct{})
		srv, err := start(bin, args, "", &lineWatcher{want: "Ready to accept connections", ready: ready})
		if err != nil {
			t.Fatalf("storetest: start redis-server: %v", err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := waitRedis(addr, tlsConf, srv, ready); err != nil {
			srv.stop()
			lastErr = fmt.Errorf("%w; redis-server said: %s", err, srv.out.String())
			continue
		}
		t.Cleanup(srv.stop)
		if tlsConf != nil {
			return "rediss://" + addr + "/0?skip_verify=true"
		}
		return "redis://" + addr + "/0"
	}
	t.Fatalf("storetest: redis-server did not start: %v", lastErr)
	return ""
}

// selfSigned writes a certificate and key for 127.0.0.1 into a temporary
// directory and returns their paths.
func selfSigned(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("storetest: key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "storetest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("storetest: certificate: %v", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("storetest: key: %v", err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return certFile, keyFile
}

// waitRedis waits until redis-server says it is ready and addr answers
// PING (any reply, NOAUTH included).
func waitRedis(addr string, tlsConf *tls.Config, srv *server, ready <-chan struct{}) error {
	deadline := time.Now().Add(ReadyTimeout)
	select {
	case <-ready:
	case <-srv.exited:
		return fmt.Errorf("redis-server exited")
	case <-time.After(ReadyTimeout):
		return fmt.Errorf("redis-server did not say it was ready within %s", ReadyTimeout)
	}
	for {
		select {
		case <-srv.exited:
			return fmt.Errorf("redis-server exited")
		default:
		}
		var c net.Conn
		var err error
		if tlsConf != nil {
			c, err = tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, tlsConf)
		} else {
			c, err = net.DialTimeout("tcp", addr, time.Second)
		}
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = io.WriteString(c, "PING\r\n")
			if err == nil {
				var line string
				line, err = bufio.NewReader(c).ReadString('\n')
				if err == nil && line == "" {
					err = fmt.Errorf("empty reply")
				}
			}
			c.Close()
			if err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer on %s within %s: %v", addr, ReadyTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dynalite is the process-wide dynalite server, shared by every test of
// the process that needs one; each StartDynamo call gets its own table.
var dynalite struct {
	mu       sync.Mutex
	users    int
	srv      *server
	endpoint string
}

var tableSeq atomic.Int64

// DynamoEnv is the environment for the dynalite server: a region, its
// endpoint and dummy credentials.
func dynamoEnv(endpoint string) map[string]string {
	return map[string]string{
		"AWS_REGION":                "us-east-1",
		"AWS_ENDPOINT_URL_DYNAMODB": endpoint,
		"AWS_ACCESS_KEY_ID":         "storetest",
		"AWS_SECRET_ACCESS_KEY":     "storetest-secret-key",
	}
}

// StartDynamo makes sure a dynalite server runs on a loopback port, creates
// a new table in it shaped like the deploy template's (string partition key
// pk) and returns the store URL dynamodb://TABLE and the environment that
// reaches it: AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY. It does not change the process environment (that
// would forbid t.Parallel): pass env to store.WithEnv(Lookup(env)), to a
// child process with Environ, or to t.Setenv.
//
// dynalite comes from the repo root's node_modules (`npm ci`), run by node
// 20 or later.
func StartDynamo(t testing.TB) (url string, env map[string]string) {
	t.Helper()
	endpoint := acquireDynalite(t)
	env = dynamoEnv(endpoint)
	table := fmt.Sprintf("wxcloudenv-test-%d-%d", os.Getpid(), tableSeq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	if err := CreateTable(ctx, env, table); err != nil {
		t.Fatalf("storetest: create table %s on dynalite at %s: %v", table, endpoint, err)
	}
	return "dynamodb://" + table, env
}

func acquireDynalite(t testing.TB) string {
	t.Helper()
	dynalite.mu.Lock()
	defer dynalite.mu.Unlock()
	if dynalite.srv != nil {
		select {
		case <-dynalite.srv.exited:
			t.Fatalf("storetest: dynalite exited: %s", dynalite.srv.out.String())
		default:
		}
	} else {
		dynalite.srv, dynalite.endpoint = startDynalite(t)
	}
	dynalite.users++
	t.Cleanup(func() {
		dynalite.mu.Lock()
		defer dynalite.mu.Unlock()
		dynalite.users--
		if dynalite.users == 0 && dynalite.srv != nil {
			dynalite.srv.stop()
			dynalite.srv = nil
		}
	})
	return dynalite.endpoint
}

func startDynalite(t testing.TB) (*server, string) {
	t.Helper()
	root := RepoRoot(t)
	cli := filepath.Join(root, "node_modules", "dynalite", "cli.js")
	if _, err := os.Stat(cli); err != nil {
		t.Fatalf("storetest: %s is missing; run `npm ci` in %s (needs node >= 20; .ci/run does this)", cli, root)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("storetest: node is not on PATH; install Node.js 20 or later (`apt-get install -y nodejs`), then run `npm ci` in %s", root)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(t)
		ready := make(chan struct{})
		w := &lineWatcher{want: "listening", ready: ready}
		srv, err := start(node, []string{cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port), "--createTableMs", "0", "--deleteTableMs", "0"}, root, w)
		if err != nil {
			t.Fatalf("storetest: start dynalite: %v", err)
		}
		select {
		case <-ready:
			return srv, "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		case <-srv.exited:
			lastErr = fmt.Errorf("dynalite exited: %s", srv.out.String())
		case <-time.After(ReadyTimeout):
			srv.stop()
			lastErr = fmt.Errorf("dynalite did not listen within %s: %s", ReadyTimeout, srv.out.String())
		}
	}
	t.Fatalf("storetest: %v", lastErr)
	return nil, ""
}

// lineWatcher closes ready once want appears in what is written to it.
type lineWatcher struct {
	want  string
	ready chan struct{}
	mu    sync.Mutex
	buf   []byte
	done  bool
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.buf = append(w.buf, p...)
		if strings.Contains(string(w.buf), w.want) {
			w.done = true
			close(w.ready)
		}
	}
	return len(p), nil
}

// Client returns a DynamoDB client for env (as StartDynamo returns it),
// built by hand like the store's own.
func Client(env map[string]string) *dynamodb.Client {
	cfg := aws.Config{
		Region:      env["AWS_REGION"],
		Credentials: credentials.NewStaticCredentialsProvider(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]),
		HTTPClient:  &http.Client{Timeout: ReadyTimeout},
	}
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if ep := env["AWS_ENDPOINT_URL_DYNAMODB"]; ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
	})
}

// CreateTable creates table with the store's shape (string partition key
// pk, on-demand billing) through the endpoint in env. dynalite has no
// UpdateTimeToLive, so the TTL attribute (expires_at) is the deploy
// template's business, not this function's.
func CreateTable(ctx context.Context, env map[string]string, table string) error {
	c := Client(env)
	var err error
	for {
		_, err = c.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(table),
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
			BillingMode:          types.BillingModePayPerRequest,
		})
		if err == nil || ctx.Err() != nil {
			break
		}
		// A server that just started may refuse the first connections.
		if !strings.Contains(err.Error(), "connect") {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 10 * time.Millisecond
		o.MaxDelay = 200 * time.Millisecond
	})
	return w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, ReadyTimeout)
}

// Lookup returns an os.LookupEnv-like function over env, for
// store.WithEnv.
func Lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// Environ returns os.Environ() with env's variables set, for a child
// process's exec.Cmd.Env.
func Environ(env map[string]string) []string {
	out := make([]string, 0, len(os.Environ())+len(env))
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := env[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// Setenv sets env's variables for the rest of the test with t.Setenv (so
// the test cannot be parallel), for code under test that reads the
// process environment itself.
func Setenv(t testing.TB, env map[string]string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
}
