package store

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Redis is a Store on a Redis server (redis:// or rediss://). Each value is
// one string key holding the expiry and the data; the key's PX TTL follows
// the expiry so Redis cleans up, but the expiry inside the value is what
// decides. Compare-and-swap and compare-and-delete are Lua scripts, so they
// are atomic on the server.
type Redis struct {
	c       *respClient
	now     func() time.Time
	where   string
	secrets []string
	// scanCount is SCAN's COUNT hint.
	scanCount int64
}

var (
	_ Store       = (*Redis)(nil)
	_ PlainGetter = (*Redis)(nil)
)

// luaExpired is true when the encoded value v is expired at now (8 bytes
// big-endian Unix nanoseconds), compared byte by byte.
const luaExpired = `
local function expired(v, now)
  if string.len(v) < 9 or string.byte(v, 1) ~= 1 then return redis.error_reply('stored value is not in wxcloudenv format') end
  local e = string.sub(v, 2, 9)
  if e == '\0\0\0\0\0\0\0\0' then return false end
  for i = 1, 8 do
    local a, b = string.byte(e, i), string.byte(now, i)
    if a ~= b then return a < b end
  end
  return true
end
`

// casScript: KEYS[1]; ARGV: has-old ("0"/"1"), old data, now, new value,
// PX milliseconds ("0": no TTL). Returns 1 when it wrote.
var casScript = newScript(luaExpired + `
local cur = redis.call('GET', KEYS[1])
local live = false
if cur then
  local e = expired(cur, ARGV[3])
  if type(e) == 'table' then return e end
  live = not e
end
if ARGV[1] == '0' then
  if live then return 0 end
elseif not live or string.sub(cur, 10) ~= ARGV[2] then
  return 0
end
if ARGV[5] == '0' then
  redis.call('SET', KEYS[1], ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[5])
end
return 1
`)

// cadScript: KEYS[1]; ARGV: old data, now. Returns 1 when it deleted.
var cadScript = newScript(luaExpired + `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local e = expired(cur, ARGV[2])
if type(e) == 'table' then return e end
if e or string.sub(cur, 10) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`)

// script is a Lua script run by EVALSHA, or EVAL when the server does not
// have it yet.
type script struct{ src, sha string }

func newScript(src string) script {
	sum := sha1.Sum([]byte(src))
	return script{src: src, sha: hex.EncodeToString(sum[:])}
}

// run runs the script on one key and returns its integer reply.
func (sc script) run(ctx context.Context, c *respClient, key string, args ...string) (int64, error) {
	cmd := append([]string{"EVALSHA", sc.sha, "1", key}, args...)
	rs, errs, err := c.do(ctx, cmd)
	if err == nil && errs[0] != nil && strings.HasPrefix(string(errs[0].(redisError)), "NOSCRIPT") { //nolint:errorlint // errs holds the script's own redisError values, never wrapped
		cmd[0], cmd[1] = "EVAL", sc.src
		rs, errs, err = c.do(ctx, cmd)
	}
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		return 0, err
	}
	if rs[0].kind != ':' {
		return 0, fmt.Errorf("redis: script answered %q, want an integer", rs[0].kind)
	}
	return rs[0].n, nil
}

func openRedis(raw string, u *url.URL, o options) (Store, error) {
	cfg, err := parseRedisURL(u)
	if err != nil {
		return nil, badURL(raw, "bad redis URL", errors.New(scrub(err.Error(), urlSecrets(raw))))
	}
	// The URL's dial_timeout, read_timeout and write_timeout win.
	for _, d := range []*time.Duration{&cfg.dialTimeout, &cfg.readTimeout, &cfg.writeTimeout} {
		if *d <= 0 {
			*d = o.timeout
		}
	}
	// No retries: a compare-and-swap whose reply was lost would run again
	// and report that it lost. The caller retries the whole operation.
	where := fmt.Sprintf("redis %s db %d", cfg.addr, cfg.db)
	var secrets []string
	if cfg.password != "" {
		secrets = append(secrets, cfg.password)
	}
	secrets = append(secrets, urlSecrets(raw)...)
	return &Redis{c: newRespClient(cfg), now: o.now, where: where, secrets: secrets, scanCount: 1000}, nil
}

func (s *Redis) fail(op, key string, err error) error {
	return unavailable(s.where, op, key, err, s.secrets)
}

// px is the key TTL for an expiry: "0" for none, at least 1 ms.
func (s *Redis) px(exp time.Time) string {
	if exp.IsZero() {
		return "0"
	}
	ms := exp.Sub(s.now()).Milliseconds() + 1
	if ms < 1 {
		ms = 1
	}
	return strconv.FormatInt(ms, 10)
}

// Get implements Store.
func (s *Redis) Get(ctx context.Context, key string) (Value, error) {
	rs, errs, err := s.c.do(ctx, []string{"GET", key})
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		return Value{}, s.fail("get", key, err)
	}
	if rs[0].null {
		return Value{}, ErrNotFound
	}
	v, err := decode(rs[0].str)
	if err != nil {
		return Value{}, s.fail("get", key, err)
	}
	if !v.Live(s.now()) {
		return Value{}, ErrNotFound
	}
	return v, nil
}

// mgetBatch bounds the keys of one MGET.
const mgetBatch = 500

// GetMany implements Store with MGET.
func (s *Redis) GetMany(ctx context.Context, keys []string) (map[string]Value, error) {
	out := map[string]Value{} // grown as keys are found: a fleet asks for many it may not hold
	now := s.now()
	for start := 0; start < len(keys); start += mgetBatch {
		chunk := keys[start:min(start+mgetBatch, len(keys))]
		rs, errs, err := s.c.do(ctx, append([]string{"MGET"}, chunk...))
		if err == nil {
			err = errs[0]
		}
		if err == nil && len(rs[0].arr) != len(chunk) {
			err = fmt.Errorf("redis: MGET of %d keys answered %d values", len(chunk), len(rs[0].arr))
		}
		if err != nil {
			return nil, s.fail("get many", "", err)
		}
		for i, x := range rs[0].arr {
			if x.kind != '$' || x.null {
				continue
			}
			v, err := decode(x.str)
			if err != nil {
				return nil, s.fail("get many", chunk[i], err)
			}
			if v.Live(now) {
				out[chunk[i]] = v
			}
		}
	}
	return out, nil
}

// Set implements Store.
func (s *Redis) Set(ctx context.Context, key string, v Value) error {
	cmd := []string{"SET", key, string(encode(v))}
	if !v.Expires.IsZero() {
		cmd = append(cmd, "PX", s.px(v.Expires))
	}
	_, errs, err := s.c.do(ctx, cmd)
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		return s.fail("set", key, err)
	}
	return nil
}

// CompareAndSwap implements Store with a Lua script.
func (s *Redis) CompareAndSwap(ctx context.Context, key string, old []byte, v Value) (bool, error) {
	hasOld := "1"
	if old == nil {
		hasOld = "0"
	}
	n, err := casScript.run(ctx, s.c, key, hasOld, string(old), string(nowBytes(s.now())), string(encode(v)), s.px(v.Expires))
	if err != nil {
		return false, s.fail("compare and swap", key, err)
	}
	return n == 1, nil
}

// CompareAndDelete implements Store with a Lua script.
func (s *Redis) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	n, err := cadScript.run(ctx, s.c, key, string(old), string(nowBytes(s.now())))
	if err != nil {
		return false, s.fail("compare and delete", key, err)
	}
	return n == 1, nil
}

// Delete implements Store.
func (s *Redis) Delete(ctx context.Context, key string) error {
	_, errs, err := s.c.do(ctx, []string{"DEL", key})
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		return s.fail("delete", key, err)
	}
	return nil
}

// Keys implements Store with SCAN MATCH; the prefix's glob characters are
// escaped, and keys whose value has expired are left out.
func (s *Redis) Keys(ctx context.Context, prefix string) ([]string, error) {
	var found []string
	seen := map[string]bool{}
	match, count := globEscape(prefix)+"*", strconv.FormatInt(s.scanCount, 10)
	for cursor := "0"; ; {
		rs, errs, err := s.c.do(ctx, []string{"SCAN", cursor, "MATCH", match, "COUNT", count})
		if err == nil {
			err = errs[0]
		}
		if err == nil && (len(rs[0].arr) != 2 || len(rs[0].arr[0].str) == 0) {
			err = errors.New("redis: SCAN answered neither a cursor nor keys")
		}
		if err != nil {
			return nil, s.fail("keys", prefix, err)
		}
		for _, x := range rs[0].arr[1].arr {
			if k := string(x.str); !seen[k] && strings.HasPrefix(k, prefix) {
				seen[k] = true
				found = append(found, k)
			}
		}
		if cursor = string(rs[0].arr[0].str); cursor == "0" {
			break
		}
	}
	live, err := s.GetMany(ctx, found)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(live))
	for _, k := range found {
		if _, ok := live[k]; ok {
			out = append(out, k)
		}
	}
	return out, nil
}

// globEscape escapes the characters Redis's glob matching treats
// specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\', '^', '-':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// GetPlain implements PlainGetter: the key holds a plain string written by
// another service (WxJava, silenceper/wechat) and its expiry is the key's
// TTL.
func (s *Redis) GetPlain(ctx context.Context, key string) (Value, error) {
	now := s.now()
	rs, errs, err := s.c.do(ctx, []string{"GET", key}, []string{"PTTL", key})
	if err == nil {
		err = errors.Join(errs...)
	}
	if err != nil {
		return Value{}, s.fail("get plain", key, err)
	}
	if rs[0].null {
		return Value{}, ErrNotFound
	}
	v := Value{Data: rs[0].str}
	if d := rs[1].n; d > 0 {
		v.Expires = now.Add(time.Duration(d) * time.Millisecond)
	}
	return v, nil
}

// Close implements Store.
func (s *Redis) Close() error {
	if err := s.c.close(); err != nil {
		return unavailable(s.where, "close", "", err, s.secrets)
	}
	return nil
}
