// Package config reads wxcloudenv's configuration from environment variables
// with envconfig, and builds from it the WeChat client and the token source
// of each operation.
//
// A variable that is set but empty counts as unset, because deploy tools
// commonly pass empty parameters through. A missing token is not an error
// here: it makes only its own operation fail, with kind config.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/wxcloudenv/wxcloudenv/pkg/wechat"
)

// Config is the whole configuration. Field tags name the variables.
type Config struct {
	BaseURLs               []string `envconfig:"WECHAT_API_BASE_URL" desc:"base URL; a comma-separated list is a failover order"`
	AccessToken            string   `envconfig:"WECHAT_ACCESS_TOKEN" desc:"token for getenvinfo"`
	ComponentAccessToken   string   `envconfig:"WECHAT_COMPONENT_ACCESS_TOKEN" desc:"token for describecloudbaserunenvs"`
	ComponentAppID         string   `envconfig:"WECHAT_COMPONENT_APPID" desc:"third-party platform appid"`
	ComponentAppSecret     string   `envconfig:"WECHAT_COMPONENT_APPSECRET" desc:"third-party platform secret"`
	ComponentVerifyTicket  string   `envconfig:"WECHAT_COMPONENT_VERIFY_TICKET" desc:"latest component_verify_ticket"`
	AuthorizerAppID        string   `envconfig:"WECHAT_AUTHORIZER_APPID" desc:"authorized mini program appid"`
	AuthorizerRefreshToken string   `envconfig:"WECHAT_AUTHORIZER_REFRESH_TOKEN" desc:"authorizer_refresh_token"`
	AppID                  string   `envconfig:"WECHAT_APPID" desc:"appid for stable_token"`
	AppSecret              string   `envconfig:"WECHAT_APPSECRET" desc:"app secret for stable_token"`
	Env                    string   `envconfig:"WECHAT_ENV" desc:"default env filter for getenvinfo"`
	Timeout                Duration `envconfig:"WECHAT_TIMEOUT" desc:"per-request timeout"`
	Retries                Int      `envconfig:"WECHAT_RETRIES" desc:"extra attempts for transient failures"`
	MaxResponseBytes       Int      `envconfig:"WECHAT_MAX_RESPONSE_BYTES" desc:"largest upstream answer accepted"`
	Operations             []string `envconfig:"WXCLOUDENV_OPERATIONS" desc:"operations when a trigger names none"`
	APIKey                 string   `envconfig:"WXCLOUDENV_API_KEY" desc:"when set, HTTP invocations must present it"`
	LogLevel               string   `envconfig:"LOG_LEVEL" desc:"debug, info, warn or error"`
}

// Defaults, as SPEC.md §3 gives them.
const (
	DefaultTimeout          = 5 * time.Second
	DefaultRetries          = 2
	DefaultMaxResponseBytes = 16 << 20
	DefaultLogLevel         = "info"
)

// DefaultOperations run when neither the trigger nor WXCLOUDENV_OPERATIONS
// names any.
var DefaultOperations = []string{wechat.OpGetEnvInfo, wechat.OpDescribeCloudBaseRunEnvs}

// Variables lists every variable Config reads, in SPEC.md order.
var Variables = []string{
	"WECHAT_API_BASE_URL", "WECHAT_ACCESS_TOKEN", "WECHAT_COMPONENT_ACCESS_TOKEN",
	"WECHAT_COMPONENT_APPID", "WECHAT_COMPONENT_APPSECRET", "WECHAT_COMPONENT_VERIFY_TICKET",
	"WECHAT_AUTHORIZER_APPID", "WECHAT_AUTHORIZER_REFRESH_TOKEN", "WECHAT_APPID", "WECHAT_APPSECRET",
	"WECHAT_ENV", "WECHAT_TIMEOUT", "WECHAT_RETRIES", "WECHAT_MAX_RESPONSE_BYTES",
	"WXCLOUDENV_OPERATIONS", "WXCLOUDENV_API_KEY", "LOG_LEVEL",
}

// Duration is a Go duration that reads an empty value as unset.
type Duration time.Duration

// Decode implements envconfig.Decoder.
func (d *Duration) Decode(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a Go duration such as 5s or 1500ms")
	}
	*d = Duration(v)
	return nil
}

// Int is an integer that reads an empty value as unset (-1).
type Int int64

// Decode implements envconfig.Decoder.
func (n *Int) Decode(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		*n = -1
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("want a whole number")
	}
	*n = Int(v)
	return nil
}

// Error is an invalid configuration. Its text names the variable and never
// holds a secret value.
type Error struct {
	Variable string
	Problem  string
}

func (e *Error) Error() string { return fmt.Sprintf("config: %s: %s", e.Variable, e.Problem) }

// Load reads the configuration from the process environment, applies the
// defaults and validates it.
func Load() (*Config, error) {
	c := Config{Retries: -1, MaxResponseBytes: -1}
	if err := envconfig.Process("", &c); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			// ParseError's own text quotes the value; name the variable only.
			return nil, &Error{Variable: pe.KeyName, Problem: pe.Err.Error()}
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	c.normalize()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) normalize() {
	c.BaseURLs = trimList(c.BaseURLs)
	if len(c.BaseURLs) == 0 {
		c.BaseURLs = []string{wechat.DefaultBaseURL}
	}
	c.Operations = trimList(c.Operations)
	if len(c.Operations) == 0 {
		c.Operations = DefaultOperations
	}
	for _, p := range []*string{&c.AccessToken, &c.ComponentAccessToken, &c.ComponentAppID, &c.ComponentAppSecret,
		&c.ComponentVerifyTicket, &c.AuthorizerAppID, &c.AuthorizerRefreshToken, &c.AppID, &c.AppSecret,
		&c.Env, &c.APIKey, &c.LogLevel} {
		*p = strings.TrimSpace(*p)
	}
	if c.Timeout == 0 {
		c.Timeout = Duration(DefaultTimeout)
	}
	if c.Retries < 0 {
		c.Retries = DefaultRetries
	}
	if c.MaxResponseBytes < 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.LogLevel == "" {
		c.LogLevel = DefaultLogLevel
	}
}

func trimList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ValidEnv reports whether env is a valid environment id: 1 to 128
// characters of [A-Za-z0-9_-].
func ValidEnv(env string) bool {
	if len(env) == 0 || len(env) > 128 {
		return false
	}
	for i := 0; i < len(env); i++ {
		b := env[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-') {
			return false
		}
	}
	return true
}

// KnownOperation reports whether op names one of the two operations.
func KnownOperation(op string) bool {
	return op == wechat.OpGetEnvInfo || op == wechat.OpDescribeCloudBaseRunEnvs
}

// Validate checks every value that is not a secret.
func (c *Config) Validate() error {
	if _, err := wechat.ParseBaseURLs(c.BaseURLs...); err != nil {
		return &Error{Variable: "WECHAT_API_BASE_URL", Problem: strings.TrimPrefix(err.Error(), "wechat: ")}
	}
	if c.Timeout < 0 {
		return &Error{Variable: "WECHAT_TIMEOUT", Problem: "must be positive"}
	}
	if c.Retries > 10 {
		return &Error{Variable: "WECHAT_RETRIES", Problem: "must be between 0 and 10"}
	}
	if c.MaxResponseBytes <= 0 {
		return &Error{Variable: "WECHAT_MAX_RESPONSE_BYTES", Problem: "must be positive"}
	}
	for _, op := range c.Operations {
		if !KnownOperation(op) {
			return &Error{Variable: "WXCLOUDENV_OPERATIONS", Problem: fmt.Sprintf("unknown operation %q; known: %s", op, strings.Join(DefaultOperations, ", "))}
		}
	}
	if c.Env != "" && !ValidEnv(c.Env) {
		return &Error{Variable: "WECHAT_ENV", Problem: "must be 1 to 128 characters of A-Z, a-z, 0-9, _ and -"}
	}
	if _, err := ParseLevel(c.LogLevel); err != nil {
		return &Error{Variable: "LOG_LEVEL", Problem: err.Error()}
	}
	return nil
}

// ParseLevel reads a LOG_LEVEL value.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, errors.New("want debug, info, warn or error")
}

// Level returns the configured log level.
func (c *Config) Level() slog.Level {
	l, _ := ParseLevel(c.LogLevel)
	return l
}

// Secrets returns every secret value the configuration holds, so that
// outputs can be scrubbed of them.
func (c *Config) Secrets() []string {
	var out []string
	for _, s := range []string{c.AccessToken, c.ComponentAccessToken, c.ComponentAppSecret, c.ComponentVerifyTicket,
		c.AuthorizerRefreshToken, c.AppSecret, c.APIKey} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
