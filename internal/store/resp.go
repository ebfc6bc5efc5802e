package store

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// This file is a small Redis client: RESP2 over TCP or TLS, a bounded pool
// of connections, pipelining, and nothing else. The store needs eight
// commands (GET, MGET, SET, DEL, SCAN, PTTL, EVALSHA, EVAL); a full client
// library linked 1.8 MB into every binary for them (BENCHMARKS.md).

// respConfig is what a redis:// or rediss:// URL says.
type respConfig struct {
	addr, host     string
	user, password string
	db             int
	tls            bool
	skipVerify     bool
	dialTimeout    time.Duration
	readTimeout    time.Duration
	writeTimeout   time.Duration
	poolSize       int
}

// parseRedisURL reads redis://[user:pass@]host[:port][/db][?option=value…]
// (rediss:// for TLS). The options are dial_timeout, read_timeout and
// write_timeout (a Go duration, or whole seconds), pool_size, db and
// skip_verify (TLS without verifying the certificate: tests only). Errors
// never contain the password.
func parseRedisURL(u *url.URL) (respConfig, error) {
	c := respConfig{tls: u.Scheme == "rediss", poolSize: 4}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "localhost"
	}
	if port == "" {
		port = "6379"
	}
	c.host, c.addr = host, net.JoinHostPort(host, port)
	if u.User != nil {
		c.user = u.User.Username()
		c.password, _ = u.User.Password()
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		db, err := strconv.Atoi(p)
		if err != nil || db < 0 {
			return c, fmt.Errorf("invalid database number %q", p)
		}
		c.db = db
	}
	q := u.Query()
	for name, vals := range q {
		v := vals[len(vals)-1]
		var err error
		switch name {
		case "dial_timeout":
			c.dialTimeout, err = redisDuration(v)
		case "read_timeout":
			c.readTimeout, err = redisDuration(v)
		case "write_timeout":
			c.writeTimeout, err = redisDuration(v)
		case "pool_size":
			c.poolSize, err = strconv.Atoi(v)
			if err == nil && c.poolSize < 1 {
				err = errors.New("must be at least 1")
			}
		case "db":
			c.db, err = strconv.Atoi(v)
			if err == nil && c.db < 0 {
				err = errors.New("must not be negative")
			}
		case "skip_verify":
			c.skipVerify, err = strconv.ParseBool(v)
		default:
			return c, fmt.Errorf("unknown option %q (known: dial_timeout, read_timeout, write_timeout, pool_size, db, skip_verify)", name)
		}
		if err != nil {
			return c, fmt.Errorf("option %s=%q: %w", name, v, err)
		}
	}
	return c, nil
}

// redisDuration is a Go duration or a whole number of seconds.
func redisDuration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

// redisError is an error reply from the server; the connection stays
// usable.
type redisError string

func (e redisError) Error() string { return "redis: " + string(e) }

// errRedisClosed is what an operation on a closed client returns.
var errRedisClosed = errors.New("redis: client is closed")

// maxBulk bounds one string the server sends (the function's memory is
// 128 MiB; Redis allows 512 MB).
const maxBulk = 64 << 20

// maxArray bounds the items of one array reply.
const maxArray = 1 << 22

// reply is one RESP value. kind is the type byte: '+', ':', '$', '*'
// ('-' replies are returned as a redisError, never as a reply). A null
// bulk string or array has null set.
type reply struct {
	kind byte
	null bool
	str  []byte
	n    int64
	arr  []reply
}

// respConn is one connection.
type respConn struct {
	nc net.Conn
	r  *bufio.Reader
	w  []byte
}

// respClient is a pool of at most poolSize connections.
type respClient struct {
	cfg  respConfig
	sem  chan struct{}
	mu   sync.Mutex
	idle []*respConn
	shut bool
}

func newRespClient(cfg respConfig) *respClient {
	return &respClient{cfg: cfg, sem: make(chan struct{}, cfg.poolSize)}
}

// do sends the commands in one write and reads one reply per command. A
// command's error reply is its reply's error in errs; err is an I/O,
// protocol or context error, after which the connection is dropped.
func (c *respClient) do(ctx context.Context, cmds ...[]string) (replies []reply, errs []error, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	defer func() { <-c.sem }()
	cn, reused, err := c.conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	replies, errs, err = c.roundTrip(ctx, cn, cmds)
	if err != nil && reused && stale(err) && ctx.Err() == nil {
		// An idle connection the server (or a proxy, or a restart) closed
		// meanwhile: so are the other idle ones. Send once more on a new
		// connection. A command that did reach the server before the
		// connection broke can only run twice as the store allows: a
		// compare-and-swap then reports false for a write that happened.
		cn.nc.Close()
		c.dropIdle()
		if cn, err = c.dialTwice(ctx); err != nil {
			return nil, nil, err
		}
		replies, errs, err = c.roundTrip(ctx, cn, cmds)
	}
	c.release(cn, err != nil)
	return replies, errs, err
}

// stale is true for the errors of a connection closed at the other end.
func stale(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// dropIdle closes every idle connection.
func (c *respClient) dropIdle() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, cn := range idle {
		cn.nc.Close()
	}
}

// conn takes an idle connection (reused) or dials a new one.
func (c *respClient) conn(ctx context.Context) (cn *respConn, reused bool, err error) {
	c.mu.Lock()
	if c.shut {
		c.mu.Unlock()
		return nil, false, errRedisClosed
	}
	if n := len(c.idle); n > 0 {
		cn := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return cn, true, nil
	}
	c.mu.Unlock()
	cn, err = c.dialTwice(ctx)
	return cn, false, err
}

// dialTwice dials, and once more after 50 ms when that fails.
func (c *respClient) dialTwice(ctx context.Context) (*respConn, error) {
	var err error
	for attempt := range 2 {
		if attempt > 0 {
			t := time.NewTimer(50 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, err
			case <-t.C:
			}
		}
		var cn *respConn
		if cn, err = c.dial(ctx); err == nil {
			return cn, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

// dial connects, authenticates and selects the database.
func (c *respClient) dial(ctx context.Context) (*respConn, error) {
	dctx, cancel := context.WithTimeout(ctx, c.cfg.dialTimeout)
	defer cancel()
	d := net.Dialer{KeepAlive: 5 * time.Minute}
	nc, err := d.DialContext(dctx, "tcp", c.cfg.addr)
	if err != nil {
		return nil, err
	}
	if c.cfg.tls {
		tc := tls.Client(nc, &tls.Config{ServerName: c.cfg.host, InsecureSkipVerify: c.cfg.skipVerify, MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(dctx); err != nil {
			nc.Close()
			return nil, err
		}
		nc = tc
	}
	cn := &respConn{nc: nc, r: bufio.NewReaderSize(nc, 16<<10)}
	var hello [][]string
	switch {
	case c.cfg.password != "" && c.cfg.user != "":
		hello = append(hello, []string{"AUTH", c.cfg.user, c.cfg.password})
	case c.cfg.password != "":
		hello = append(hello, []string{"AUTH", c.cfg.password})
	}
	if c.cfg.db != 0 {
		hello = append(hello, []string{"SELECT", strconv.Itoa(c.cfg.db)})
	}
	if len(hello) > 0 {
		_, errs, err := c.roundTrip(ctx, cn, hello)
		if err == nil {
			err = errors.Join(errs...)
		}
		if err != nil {
			nc.Close()
			return nil, err
		}
	}
	return cn, nil
}

// release puts a connection back, or closes it when it failed or the
// client is closed.
func (c *respClient) release(cn *respConn, broken bool) {
	c.mu.Lock()
	if broken || c.shut {
		c.mu.Unlock()
		cn.nc.Close()
		return
	}
	c.idle = append(c.idle, cn)
	c.mu.Unlock()
}

// close closes the idle connections; busy ones close when released.
func (c *respClient) close() error {
	c.mu.Lock()
	idle := c.idle
	c.idle, c.shut = nil, true
	c.mu.Unlock()
	var errs []error
	for _, cn := range idle {
		errs = append(errs, cn.nc.Close())
	}
	return errors.Join(errs...)
}

// deadline is now+d, or ctx's deadline when that is sooner.
func deadline(ctx context.Context, d time.Duration) time.Time {
	t := time.Now().Add(d)
	if cd, ok := ctx.Deadline(); ok && cd.Before(t) {
		return cd
	}
	return t
}

func (c *respClient) roundTrip(ctx context.Context, cn *respConn, cmds [][]string) ([]reply, []error, error) {
	cn.w = cn.w[:0]
	for _, args := range cmds {
		cn.w = appendCommand(cn.w, args)
	}
	if err := cn.nc.SetWriteDeadline(deadline(ctx, c.cfg.writeTimeout)); err != nil {
		return nil, nil, err
	}
	if _, err := cn.nc.Write(cn.w); err != nil {
		return nil, nil, err
	}
	if cap(cn.w) > 64<<10 {
		cn.w = nil // do not keep a large value's buffer
	}
	if err := cn.nc.SetReadDeadline(deadline(ctx, c.cfg.readTimeout)); err != nil {
		return nil, nil, err
	}
	replies := make([]reply, len(cmds))
	errs := make([]error, len(cmds))
	for i := range cmds {
		rp, err := readReply(cn.r, 0)
		var re redisError
		if errors.As(err, &re) {
			errs[i] = re
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		replies[i] = rp
	}
	return replies, errs, nil
}

// appendCommand appends args as a RESP array of bulk strings.
func appendCommand(b []byte, args []string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

// readLine reads one line without its CRLF.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("redis: reply line too long")
		}
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("redis: malformed reply line %q", line)
	}
	return line[:len(line)-2], nil
}

// readReply reads one reply; an error reply is a redisError (nested in an
// array, it is the array's error).
func readReply(r *bufio.Reader, depth int) (reply, error) {
	if depth > 8 {
		return reply{}, errors.New("redis: reply nested too deep")
	}
	line, err := readLine(r)
	if err != nil {
		return reply{}, err
	}
	rp := reply{kind: line[0]}
	body := line[1:]
	switch rp.kind {
	case '-':
		return reply{}, redisError(body)
	case '+':
		rp.str = append([]byte(nil), body...)
		return rp, nil
	case ':':
		rp.n, err = strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			return reply{}, fmt.Errorf("redis: malformed integer reply %q", body)
		}
		return rp, nil
	case '$', '*':
		n, err := strconv.ParseInt(string(body), 10, 64)
		if err != nil || n < -1 {
			return reply{}, fmt.Errorf("redis: malformed length %q", body)
		}
		if n == -1 {
			rp.null = true
			return rp, nil
		}
		if rp.kind == '$' {
			if n > maxBulk {
				return reply{}, fmt.Errorf("redis: a %d-byte value is over the %d-byte limit", n, maxBulk)
			}
			rp.str = make([]byte, n+2)
			if _, err := io.ReadFull(r, rp.str); err != nil {
				return reply{}, err
			}
			if rp.str[n] != '\r' || rp.str[n+1] != '\n' {
				return reply{}, errors.New("redis: bulk string without CRLF")
			}
			rp.str = rp.str[:n]
			return rp, nil
		}
		if n > maxArray {
			return reply{}, fmt.Errorf("redis: an array of %d items is over the %d-item limit", n, maxArray)
		}
		rp.arr = make([]reply, n)
		var nested error
		for i := range rp.arr {
			rp.arr[i], err = readReply(r, depth+1)
			var re redisError
			if errors.As(err, &re) {
				nested = re // read the rest, so the connection stays in step
				continue
			}
			if err != nil {
				return reply{}, err
			}
		}
		if nested != nil {
			return reply{}, nested
		}
		return rp, nil
	default:
		return reply{}, fmt.Errorf("redis: unknown reply type %q", rp.kind)
	}
}
