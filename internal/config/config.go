// Package config reads wxcloudenv's configuration (docs/contract.md#configuration).
//
// Parse is a pure function of a lookup, so that tests need no process
// environment and SCF's per-invocation variables are read the same way as
// Lambda's. The struct tags of Config are the one source of the variables'
// names, defaults and descriptions; internal/config/usage prints them, and
// Parse reads a written-out copy (fields) that a test holds to them, so
// that a cold start does not read them by reflection.
//
// A variable that is set but empty counts as unset, because deploy tools
// commonly pass empty parameters through. A value out of range is an error
// that names the variable, never its value, and is never silently replaced by
// a default. A missing token is not an error here: it makes only its own
// operation fail, with kind config.
package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxcloudenv/wxcloudenv/internal/appid"
	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// Config is the whole configuration. The envconfig tag names each variable;
// default holds its default as written in the variable, except for the
// client's settings, whose defaults are pkg/wechat's (see defaults).
type Config struct {
	BaseURLs               []string      `envconfig:"WECHAT_API_BASE_URL" desc:"base URL; a comma-separated list is a failover order"`
	AccessToken            string        `envconfig:"WECHAT_ACCESS_TOKEN" desc:"token for getenvinfo" secret:"true"`
	ComponentAccessToken   string        `envconfig:"WECHAT_COMPONENT_ACCESS_TOKEN" desc:"token for describecloudbaserunenvs" secret:"true"`
	ComponentAppID         string        `envconfig:"WECHAT_COMPONENT_APPID" desc:"third-party platform appid"`
	ComponentAppSecret     string        `envconfig:"WECHAT_COMPONENT_APPSECRET" desc:"third-party platform secret" secret:"true"`
	ComponentVerifyTicket  string        `envconfig:"WECHAT_COMPONENT_VERIFY_TICKET" desc:"first component_verify_ticket (the pushed one in the store wins)" secret:"true"`
	AuthorizerAppID        string        `envconfig:"WECHAT_AUTHORIZER_APPID" desc:"authorized mini program appid"`
	AuthorizerRefreshToken string        `envconfig:"WECHAT_AUTHORIZER_REFRESH_TOKEN" desc:"first authorizer_refresh_token (a rotated one in the store wins)" secret:"true"`
	AppID                  string        `envconfig:"WECHAT_APPID" desc:"appid for stable_token"`
	AppSecret              string        `envconfig:"WECHAT_APPSECRET" desc:"app secret for stable_token" secret:"true"`
	Env                    string        `envconfig:"WECHAT_ENV" desc:"default env filter for getenvinfo"`
	Timeout                time.Duration `envconfig:"WECHAT_TIMEOUT" desc:"per-request timeout, 1ms to 5m"`
	Retries                int           `envconfig:"WECHAT_RETRIES" desc:"extra attempts for transient failures, 0 to 10"`
	MaxResponseBytes       int64         `envconfig:"WECHAT_MAX_RESPONSE_BYTES" desc:"largest upstream answer accepted, 1 to 67108864"`
	Operations             []string      `envconfig:"WXCLOUDENV_OPERATIONS" default:"getenvinfo,describecloudbaserunenvs" desc:"operations when a trigger names none"`
	APIKey                 string        `envconfig:"WXCLOUDENV_API_KEY" desc:"when set, HTTP invocations must present it" secret:"true"`
	LogLevel               slog.Level    `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`

	Store          string `envconfig:"WXCLOUDENV_STORE" default:"memory" desc:"shared state: memory, file:///abs/path, redis://, rediss:// or dynamodb://TABLE" secret:"url"`
	StorePrefix    string `envconfig:"WXCLOUDENV_STORE_PREFIX" default:"wxcloudenv:" desc:"prefix of every key this function writes"`
	TokenLayout    string `envconfig:"WXCLOUDENV_TOKEN_LAYOUT" default:"wxcloudenv" desc:"whose keys hold the tokens: wxcloudenv, wxjava or silenceper"`
	TokenKeyPrefix string `envconfig:"WXCLOUDENV_TOKEN_KEY_PREFIX" desc:"with wxjava: WxJava's keyPrefix"`

	ComponentToken          string `envconfig:"WECHAT_COMPONENT_TOKEN" desc:"the authorization-event message-check token" secret:"true"`
	ComponentEncodingAESKey string `envconfig:"WECHAT_COMPONENT_ENCODING_AES_KEY" desc:"the 43-character EncodingAESKey" secret:"true"`

	Authorizers []string `envconfig:"WXCLOUDENV_AUTHORIZERS" desc:"whom getenvinfo covers: empty (one authorizer), all, or a list of appids"`
	Concurrency int      `envconfig:"WXCLOUDENV_CONCURRENCY" default:"16" desc:"authorizers checked at once, 1 to 256"`

	Notify               []string      `envconfig:"WXCLOUDENV_NOTIFY" desc:"robot webhook URLs (WeCom, DingTalk, Feishu/Lark)" secret:"true"`
	NotifyDingTalkSecret string        `envconfig:"WXCLOUDENV_NOTIFY_DINGTALK_SECRET" desc:"DingTalk robot signing secret" secret:"true"`
	NotifyFeishuSecret   string        `envconfig:"WXCLOUDENV_NOTIFY_FEISHU_SECRET" desc:"Feishu/Lark bot signing secret" secret:"true"`
	NotifyRepeat         time.Duration `envconfig:"WXCLOUDENV_NOTIFY_REPEAT" default:"24h" desc:"remind of what is still open after this long; 0 = never"`
	NotifyGroupMin       int           `envconfig:"WXCLOUDENV_NOTIFY_GROUP_MIN" default:"3" desc:"changes sharing a cause over this many authorizers or envs are one line; 0 = never group"`

	FleetQueue  string `envconfig:"WXCLOUDENV_FLEET_QUEUE" desc:"where a scheduled fleet run sends its batches: empty (check in this invocation), an SQS queue URL, or scf:NAMESPACE/FUNCTION"`
	FleetBatch  int    `envconfig:"WXCLOUDENV_FLEET_BATCH" default:"100" desc:"authorizers per queued batch, 1 to 1000"`
	SCFRegion   string `envconfig:"WXCLOUDENV_SCF_REGION" desc:"region of SCF's Invoke API for scf: queues (default TENCENTCLOUD_REGION, else ap-guangzhou)"`
	SCFEndpoint string `envconfig:"WXCLOUDENV_SCF_ENDPOINT" desc:"SCF API endpoint for scf: queues (default https://scf.tencentcloudapi.com)"`
}

// Limits of the values Parse accepts.
const (
	MaxTimeout          = 5 * time.Minute
	MaxRetries          = 10
	MaxResponseBytesCap = wechat.MaxResponseBytesLimit
	MaxConcurrency      = 256
	MaxAuthorizers      = 10000
	MaxFleetBatch       = 1000
)

// Token layouts (docs/contract.md#following-another-token-service).
const (
	LayoutOwn        = "wxcloudenv"
	LayoutWxJava     = "wxjava"
	LayoutSilenceper = "silenceper"
)

// AllAuthorizers is the WXCLOUDENV_AUTHORIZERS value that covers the whole
// fleet.
const AllAuthorizers = "all"

// Variables lists every variable Config reads, in the order of its fields.
var Variables = variableNames()

// field is one field of Config: what its tags say (TestFieldsMatchTags
// holds the two together) and where Parse writes it.
type field struct {
	name, def, secret string
	ptr               func(c *Config) any // the field's address
}

// fields are Config's fields in order, written out so that a cold start
// reads no struct tags by reflection.
var fields = [...]field{
	{name: "WECHAT_API_BASE_URL", def: "", secret: "", ptr: func(c *Config) any { return &c.BaseURLs }},
	{name: "WECHAT_ACCESS_TOKEN", def: "", secret: "true", ptr: func(c *Config) any { return &c.AccessToken }},
	{name: "WECHAT_COMPONENT_ACCESS_TOKEN", def: "", secret: "true", ptr: func(c *Config) any { return &c.ComponentAccessToken }},
	{name: "WECHAT_COMPONENT_APPID", def: "", secret: "", ptr: func(c *Config) any { return &c.ComponentAppID }},
	{name: "WECHAT_COMPONENT_APPSECRET", def: "", secret: "true", ptr: func(c *Config) any { return &c.ComponentAppSecret }},
	{name: "WECHAT_COMPONENT_VERIFY_TICKET", def: "", secret: "true", ptr: func(c *Config) any { return &c.ComponentVerifyTicket }},
	{name: "WECHAT_AUTHORIZER_APPID", def: "", secret: "", ptr: func(c *Config) any { return &c.AuthorizerAppID }},
	{name: "WECHAT_AUTHORIZER_REFRESH_TOKEN", def: "", secret: "true", ptr: func(c *Config) any { return &c.AuthorizerRefreshToken }},
	{name: "WECHAT_APPID", def: "", secret: "", ptr: func(c *Config) any { return &c.AppID }},
	{name: "WECHAT_APPSECRET", def: "", secret: "true", ptr: func(c *Config) any { return &c.AppSecret }},
	{name: "WECHAT_ENV", def: "", secret: "", ptr: func(c *Config) any { return &c.Env }},
	{name: "WECHAT_TIMEOUT", def: "", secret: "", ptr: func(c *Config) any { return &c.Timeout }},
	{name: "WECHAT_RETRIES", def: "", secret: "", ptr: func(c *Config) any { return &c.Retries }},
	{name: "WECHAT_MAX_RESPONSE_BYTES", def: "", secret: "", ptr: func(c *Config) any { return &c.MaxResponseBytes }},
	{name: "WXCLOUDENV_OPERATIONS", def: "getenvinfo,describecloudbaserunenvs", secret: "", ptr: func(c *Config) any { return &c.Operations }},
	{name: "WXCLOUDENV_API_KEY", def: "", secret: "true", ptr: func(c *Config) any { return &c.APIKey }},
	{name: "LOG_LEVEL", def: "info", secret: "", ptr: func(c *Config) any { return &c.LogLevel }},
	{name: "WXCLOUDENV_STORE", def: "memory", secret: "url", ptr: func(c *Config) any { return &c.Store }},
	{name: "WXCLOUDENV_STORE_PREFIX", def: "wxcloudenv:", secret: "", ptr: func(c *Config) any { return &c.StorePrefix }},
	{name: "WXCLOUDENV_TOKEN_LAYOUT", def: "wxcloudenv", secret: "", ptr: func(c *Config) any { return &c.TokenLayout }},
	{name: "WXCLOUDENV_TOKEN_KEY_PREFIX", def: "", secret: "", ptr: func(c *Config) any { return &c.TokenKeyPrefix }},
	{name: "WECHAT_COMPONENT_TOKEN", def: "", secret: "true", ptr: func(c *Config) any { return &c.ComponentToken }},
	{name: "WECHAT_COMPONENT_ENCODING_AES_KEY", def: "", secret: "true", ptr: func(c *Config) any { return &c.ComponentEncodingAESKey }},
	{name: "WXCLOUDENV_AUTHORIZERS", def: "", secret: "", ptr: func(c *Config) any { return &c.Authorizers }},
	{name: "WXCLOUDENV_CONCURRENCY", def: "16", secret: "", ptr: func(c *Config) any { return &c.Concurrency }},
	{name: "WXCLOUDENV_NOTIFY", def: "", secret: "true", ptr: func(c *Config) any { return &c.Notify }},
	{name: "WXCLOUDENV_NOTIFY_DINGTALK_SECRET", def: "", secret: "true", ptr: func(c *Config) any { return &c.NotifyDingTalkSecret }},
	{name: "WXCLOUDENV_NOTIFY_FEISHU_SECRET", def: "", secret: "true", ptr: func(c *Config) any { return &c.NotifyFeishuSecret }},
	{name: "WXCLOUDENV_NOTIFY_REPEAT", def: "24h", secret: "", ptr: func(c *Config) any { return &c.NotifyRepeat }},
	{name: "WXCLOUDENV_NOTIFY_GROUP_MIN", def: "3", secret: "", ptr: func(c *Config) any { return &c.NotifyGroupMin }},
	{name: "WXCLOUDENV_FLEET_QUEUE", def: "", secret: "", ptr: func(c *Config) any { return &c.FleetQueue }},
	{name: "WXCLOUDENV_FLEET_BATCH", def: "100", secret: "", ptr: func(c *Config) any { return &c.FleetBatch }},
	{name: "WXCLOUDENV_SCF_REGION", def: "", secret: "", ptr: func(c *Config) any { return &c.SCFRegion }},
	{name: "WXCLOUDENV_SCF_ENDPOINT", def: "", secret: "", ptr: func(c *Config) any { return &c.SCFEndpoint }},
}

func variableNames() []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.name
	}
	return out
}

// Lookup reads one variable, as os.LookupEnv does.
type Lookup func(name string) (string, bool)

// Map returns a Lookup over m.
func Map(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// Error is an invalid configuration. Its text names the variable and never
// holds the value.
type Error struct {
	Variable string
	Problem  string
}

func (e *Error) Error() string { return fmt.Sprintf("config: %s: %s", e.Variable, e.Problem) }

// Parse reads the configuration through lookup, applies the defaults and
// validates every value.
func Parse(lookup Lookup) (*Config, error) {
	c := defaults()
	for _, f := range fields {
		name := f.name
		raw, _ := lookup(name)
		raw = strings.TrimSpace(raw)
		if raw == "" {
			raw = f.def
		}
		if raw == "" {
			continue
		}
		if problem := set(f.ptr(&c), raw); problem != "" {
			return nil, &Error{Variable: name, Problem: problem}
		}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// defaults returns the client's settings as pkg/wechat defaults them: the
// one source of those defaults.
func defaults() Config {
	return Config{
		BaseURLs:         strings.Split(wechat.DefaultBaseURLs, ","),
		Timeout:          wechat.DefaultTimeout,
		Retries:          wechat.DefaultRetries,
		MaxResponseBytes: wechat.DefaultMaxResponseBytes,
	}
}

// set parses raw into the field at ptr and returns what is wrong with it,
// in words that never quote the value.
func set(ptr any, raw string) string {
	switch p := ptr.(type) {
	case *string:
		*p = raw
	case *[]string:
		*p = splitList(raw)
	case *time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return "want a Go duration such as 5s or 1500ms"
		}
		*p = d
	case *int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return "want a whole number"
		}
		*p = n
	case *int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return "want a whole number"
		}
		*p = n
	case *slog.Level:
		if strings.EqualFold(raw, "warning") {
			raw = "warn"
		}
		if err := p.UnmarshalText([]byte(raw)); err != nil {
			return "want debug, info, warn or error"
		}
	default:
		return fmt.Sprintf("unsupported type %T", ptr)
	}
	return ""
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// KnownOperation reports whether op names one of the two operations.
func KnownOperation(op string) bool {
	return op == wechat.OpGetEnvInfo || op == wechat.OpDescribeCloudBaseRunEnvs
}

// UnknownOperation describes op, which KnownOperation rejected, for an
// error message: it quotes op when it is a plain word of letters, '_' and
// '-' (never something that could be a secret), and names the operation
// it is close to, saying that case matters when only case differs.
func UnknownOperation(op string) string {
	known := []string{wechat.OpGetEnvInfo, wechat.OpDescribeCloudBaseRunEnvs}
	if !plainWord(op) {
		return "unknown operation (not shown: not a plain word); known: getenvinfo, describecloudbaserunenvs"
	}
	for _, k := range known {
		if strings.EqualFold(op, k) {
			return fmt.Sprintf("unknown operation %q: names are case-sensitive, write %s", op, k)
		}
	}
	for _, k := range known {
		if editDistance(strings.ToLower(op), k) <= 3 {
			return fmt.Sprintf("unknown operation %q: did you mean %s?", op, k)
		}
	}
	return fmt.Sprintf("unknown operation %q; known: getenvinfo, describecloudbaserunenvs", op)
}

// plainWord reports whether s is 1 to 40 letters, '_' or '-'.
func plainWord(s string) bool {
	if len(s) == 0 || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '_' && c != '-' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// editDistance is the Levenshtein distance between two ASCII strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// ValidEnv reports whether env is a valid environment id: 1 to 128
// characters of [A-Za-z0-9_-].
func ValidEnv(env string) bool { return validID(env, 128, true) }

// ValidAppID reports whether id is a valid authorizer appid: 1 to 64
// characters of [A-Za-z0-9_].
func ValidAppID(id string) bool { return appid.Valid(id) }

func validID(s string, maxLen int, dash bool) bool {
	if len(s) == 0 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || dash && b == '-') {
			return false
		}
	}
	return true
}

// validate checks every value against its range.
func (c *Config) validate() error {
	urls, err := wechat.ParseBaseURLs(c.BaseURLs...)
	if err != nil || slices.ContainsFunc(urls, func(u *url.URL) bool { return u.User != nil }) {
		return &Error{Variable: "WECHAT_API_BASE_URL", Problem: "want absolute http or https URLs with no query, user info or fragment"}
	}
	if c.Timeout < time.Millisecond || c.Timeout > MaxTimeout {
		return &Error{Variable: "WECHAT_TIMEOUT", Problem: "must be between 1ms and 5m"}
	}
	if c.Retries < 0 || c.Retries > MaxRetries {
		return &Error{Variable: "WECHAT_RETRIES", Problem: "must be between 0 and 10"}
	}
	if c.MaxResponseBytes < 1 || c.MaxResponseBytes > MaxResponseBytesCap {
		return &Error{Variable: "WECHAT_MAX_RESPONSE_BYTES", Problem: "must be between 1 and 67108864 (64 MiB)"}
	}
	if err := checkOperations(c.Operations); err != nil {
		return err
	}
	if c.Env != "" && !ValidEnv(c.Env) {
		return &Error{Variable: "WECHAT_ENV", Problem: "must be 1 to 128 characters of A-Z, a-z, 0-9, _ and -"}
	}
	if err := c.validateStore(); err != nil {
		return err
	}
	if k := c.ComponentEncodingAESKey; k != "" && !validAESKey(k) {
		return &Error{Variable: "WECHAT_COMPONENT_ENCODING_AES_KEY", Problem: "must be the 43 characters of base64 the platform's console shows"}
	}
	if err := checkAuthorizers(c.Authorizers); err != nil {
		return err
	}
	if c.Concurrency < 1 || c.Concurrency > MaxConcurrency {
		return &Error{Variable: "WXCLOUDENV_CONCURRENCY", Problem: "must be between 1 and 256"}
	}
	for i, u := range c.Notify {
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			return &Error{Variable: "WXCLOUDENV_NOTIFY", Problem: fmt.Sprintf("entry %d is not an http or https URL", i+1)}
		}
	}
	if c.NotifyRepeat < 0 {
		return &Error{Variable: "WXCLOUDENV_NOTIFY_REPEAT", Problem: "must be 0 (never) or a positive duration"}
	}
	if c.NotifyGroupMin < 0 || c.NotifyGroupMin > MaxAuthorizers {
		return &Error{Variable: "WXCLOUDENV_NOTIFY_GROUP_MIN", Problem: "must be 0 (never group) or between 1 and 10000"}
	}
	return c.validateQueue()
}

func checkOperations(ops []string) error {
	seen := map[string]bool{}
	for i, op := range ops {
		if !KnownOperation(op) {
			return &Error{Variable: "WXCLOUDENV_OPERATIONS", Problem: fmt.Sprintf("entry %d of %d: %s", i+1, len(ops), UnknownOperation(op))}
		}
		if seen[op] {
			return &Error{Variable: "WXCLOUDENV_OPERATIONS", Problem: "names " + op + " twice"}
		}
		seen[op] = true
	}
	return nil
}

func checkAuthorizers(list []string) error {
	if len(list) == 1 && list[0] == AllAuthorizers {
		return nil
	}
	if len(list) > MaxAuthorizers {
		return &Error{Variable: "WXCLOUDENV_AUTHORIZERS", Problem: "lists more than 10000 appids; use all, with shards"}
	}
	seen := make(map[string]bool, len(list))
	for i, id := range list {
		if !ValidAppID(id) || id == AllAuthorizers {
			return &Error{Variable: "WXCLOUDENV_AUTHORIZERS", Problem: fmt.Sprintf("entry %d is not all or an appid of 1 to 64 characters of A-Z, a-z, 0-9 and _", i+1)}
		}
		if seen[id] {
			return &Error{Variable: "WXCLOUDENV_AUTHORIZERS", Problem: fmt.Sprintf("entry %d repeats an appid", i+1)}
		}
		seen[id] = true
	}
	return nil
}

func validAESKey(k string) bool {
	if len(k) != 43 {
		return false
	}
	for i := 0; i < len(k); i++ {
		b := k[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '+' || b == '/') {
			return false
		}
	}
	return true
}

// validateStore checks the store URL's form and the layout that goes with
// it. The backend itself checks the rest when it opens.
func (c *Config) validateStore() error {
	scheme := c.StoreScheme()
	if table, ok := strings.CutPrefix(c.Store, "dynamodb://"); ok && strings.Trim(table, "/") == "" {
		return &Error{Variable: "WXCLOUDENV_STORE", Problem: "dynamodb:// needs the table's name: dynamodb://TABLE (the SAM stack names its table in the StoreTableName output)"}
	}
	switch scheme {
	case "memory", "file", "redis", "rediss", "dynamodb":
	default:
		return &Error{Variable: "WXCLOUDENV_STORE", Problem: "want memory, file:///abs/path, redis://host:port, rediss://host:port or dynamodb://TABLE"}
	}
	if len(c.StorePrefix) > 64 || strings.ContainsAny(c.StorePrefix, " \t\r\n*?[]") {
		return &Error{Variable: "WXCLOUDENV_STORE_PREFIX", Problem: "must be at most 64 characters with no space or glob character"}
	}
	switch c.TokenLayout {
	case LayoutOwn:
	case LayoutWxJava, LayoutSilenceper:
		if scheme != "redis" && scheme != "rediss" {
			return &Error{Variable: "WXCLOUDENV_TOKEN_LAYOUT", Problem: "following another service's keys needs a redis:// or rediss:// WXCLOUDENV_STORE"}
		}
	default:
		return &Error{Variable: "WXCLOUDENV_TOKEN_LAYOUT", Problem: "want wxcloudenv, wxjava or silenceper"}
	}
	if c.TokenKeyPrefix != "" && c.TokenLayout != LayoutWxJava {
		return &Error{Variable: "WXCLOUDENV_TOKEN_KEY_PREFIX", Problem: "applies only with WXCLOUDENV_TOKEN_LAYOUT=wxjava"}
	}
	return nil
}

// StoreScheme returns the store URL's scheme ("memory" for the default).
func (c *Config) StoreScheme() string {
	if c.Store == "" || c.Store == "memory" {
		return "memory"
	}
	scheme, rest, ok := strings.Cut(c.Store, "://")
	if !ok || rest == "" {
		return ""
	}
	return strings.ToLower(scheme)
}

// Fleet reports whether getenvinfo covers named authorizers (or all of
// them) rather than the single authorizer of the token variables.
func (c *Config) Fleet() bool { return len(c.Authorizers) > 0 }

// Secrets returns every secret value the configuration holds, so that
// outputs can be scrubbed of them. A URL's secrets are its user info and
// query values, and the whole URL.
func (c *Config) Secrets() []string {
	var out []string
	for _, f := range fields {
		if f.secret == "" {
			continue
		}
		var vals []string
		switch p := f.ptr(c).(type) {
		case *string:
			vals = []string{*p}
		case *[]string:
			vals = *p
		}
		for _, s := range vals {
			if s == "" || s == "memory" {
				continue
			}
			out = append(out, s)
			out = append(out, urlSecrets(s)...)
		}
	}
	return out
}

// urlSecrets returns the password and query values inside s, when s is a
// URL.
func urlSecrets(s string) []string {
	_, rest, ok := strings.Cut(s, "://")
	if !ok {
		return nil
	}
	var out []string
	if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
		user := rest[:at]
		if _, pass, ok := strings.Cut(user, ":"); ok {
			out = append(out, pass)
		} else {
			out = append(out, user)
		}
	}
	if _, q, ok := strings.Cut(rest, "?"); ok {
		for _, kv := range strings.Split(q, "&") {
			if _, val, ok := strings.Cut(kv, "="); ok && val != "" {
				out = append(out, val)
			}
		}
	}
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		// Feishu/Lark hooks carry their token as the last path segment.
		if seg := rest[i+1:]; len(seg) >= 16 && !strings.ContainsAny(seg, "?=&") {
			out = append(out, seg)
		}
	}
	return out
}
