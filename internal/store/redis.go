package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store on a Redis server (redis:// or rediss://). Each value is
// one string key holding the expiry and the data; the key's PX TTL follows
// the expiry so Redis cleans up, but the expiry inside the value is what
// decides. Compare-and-swap and compare-and-delete are Lua scripts, so they
// are atomic on the server.
type Redis struct {
	c       *redis.Client
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
var casScript = redis.NewScript(luaExpired + `
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
var cadScript = redis.NewScript(luaExpired + `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local e = expired(cur, ARGV[2])
if type(e) == 'table' then return e end
if e or string.sub(cur, 10) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`)

// quietRedis is go-redis's logger for this process: silent, since every
// failure it would print reaches the caller as an error anyway, with the
// password scrubbed.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

var setRedisLogger sync.Once

func openRedis(raw string, o options) (Store, error) {
	setRedisLogger.Do(func() { redis.SetLogger(quietRedis{}) })
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return nil, badURL(raw, "bad redis URL", err)
	}
	opt.DisableIdentity = true // CLIENT SETINFO fails on servers older than 7.2
	// The URL's dial_timeout, read_timeout and write_timeout win.
	for _, d := range []*time.Duration{&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout} {
		if *d == 0 {
			*d = o.timeout
		}
	}
	opt.ContextTimeoutEnabled = true
	// No retries: a compare-and-swap whose reply was lost would run again
	// and report that it lost. The caller retries the whole operation.
	opt.MaxRetries = -1
	opt.DialerRetries = 2
	opt.DialerRetryTimeout = 50 * time.Millisecond
	opt.PoolSize = 4
	where := fmt.Sprintf("redis %s db %d", opt.Addr, opt.DB)
	var secrets []string
	if opt.Password != "" {
		secrets = append(secrets, opt.Password)
	}
	secrets = append(secrets, urlSecrets(raw)...)
	return &Redis{c: redis.NewClient(opt), now: o.now, where: where, secrets: secrets, scanCount: 1000}, nil
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
	raw, err := s.c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Value{}, ErrNotFound
	}
	if err != nil {
		return Value{}, s.fail("get", key, err)
	}
	v, err := decode(raw)
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
	out := make(map[string]Value, len(keys))
	now := s.now()
	for start := 0; start < len(keys); start += mgetBatch {
		chunk := keys[start:min(start+mgetBatch, len(keys))]
		vals, err := s.c.MGet(ctx, chunk...).Result()
		if err != nil {
			return nil, s.fail("get many", "", err)
		}
		for i, x := range vals {
			str, ok := x.(string)
			if !ok {
				continue
			}
			v, err := decode([]byte(str))
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
	var ttl time.Duration
	if !v.Expires.IsZero() {
		ms, _ := strconv.ParseInt(s.px(v.Expires), 10, 64)
		ttl = time.Duration(ms) * time.Millisecond
	}
	if err := s.c.Set(ctx, key, encode(v), ttl).Err(); err != nil {
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
	n, err := casScript.Run(ctx, s.c, []string{key}, hasOld, old, nowBytes(s.now()), encode(v), s.px(v.Expires)).Int()
	if err != nil {
		return false, s.fail("compare and swap", key, err)
	}
	return n == 1, nil
}

// CompareAndDelete implements Store with a Lua script.
func (s *Redis) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	n, err := cadScript.Run(ctx, s.c, []string{key}, old, nowBytes(s.now())).Int()
	if err != nil {
		return false, s.fail("compare and delete", key, err)
	}
	return n == 1, nil
}

// Delete implements Store.
func (s *Redis) Delete(ctx context.Context, key string) error {
	if err := s.c.Del(ctx, key).Err(); err != nil {
		return s.fail("delete", key, err)
	}
	return nil
}

// Keys implements Store with SCAN MATCH; the prefix's glob characters are
// escaped, and keys whose value has expired are left out.
func (s *Redis) Keys(ctx context.Context, prefix string) ([]string, error) {
	var found []string
	seen := map[string]bool{}
	iter := s.c.Scan(ctx, 0, globEscape(prefix)+"*", s.scanCount).Iterator()
	for iter.Next(ctx) {
		if k := iter.Val(); !seen[k] && strings.HasPrefix(k, prefix) {
			seen[k] = true
			found = append(found, k)
		}
	}
	if err := iter.Err(); err != nil {
		return nil, s.fail("keys", prefix, err)
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
	var get *redis.StringCmd
	var pttl *redis.DurationCmd
	now := s.now()
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, key)
		pttl = p.PTTL(ctx, key)
		return nil
	})
	if errors.Is(err, redis.Nil) || errors.Is(get.Err(), redis.Nil) {
		return Value{}, ErrNotFound
	}
	if err != nil {
		return Value{}, s.fail("get plain", key, err)
	}
	v := Value{Data: []byte(get.Val())}
	if d := pttl.Val(); d > 0 {
		v.Expires = now.Add(d)
	}
	return v, nil
}

// Close implements Store.
func (s *Redis) Close() error {
	if err := s.c.Close(); err != nil {
		return unavailable(s.where, "close", "", err, s.secrets)
	}
	return nil
}
