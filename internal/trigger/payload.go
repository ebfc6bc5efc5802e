package trigger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/wxcloudenv/wxcloudenv/internal/appid"
	"github.com/wxcloudenv/wxcloudenv/internal/config"
)

// payloadKeys are a payload's fields; keys match exactly, as written.
var payloadKeys = []string{"operations", "env", "authorizers", "shard"}

// ParsePayload reads a direct payload strictly: keys match case-sensitively,
// and an unknown or repeated key, an empty, unknown or repeated operation,
// an invalid env, authorizer list or shard are errors. Empty input and
// null give the empty Payload. Errors say what is wrong without echoing
// the caller's values, where a secret could hide.
func ParsePayload(raw []byte) (Payload, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return Payload{}, nil
	}
	if raw[0] != '{' {
		return Payload{}, &PayloadError{Reason: "the payload is not a JSON object"}
	}
	if !json.Valid(raw) {
		var v json.RawMessage
		if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&v); err != nil {
			return Payload{}, &PayloadError{Reason: jsonReason(err)}
		}
		return Payload{}, &PayloadError{Reason: "data after the JSON object"}
	}
	// Valid JSON: the members are scanned, not decoded one by one.
	var p Payload
	var seen [4]bool // by index in payloadKeys
	var err error
	members(raw, func(key, v []byte) {
		if err != nil {
			return
		}
		k := payloadKey(key)
		if k < 0 {
			err = unknownField(string(key))
			return
		}
		if seen[k] {
			err = &PayloadError{Reason: "the field " + payloadKeys[k] + " is given twice"}
			return
		}
		seen[k] = true
		if string(v) == "null" {
			return
		}
		err = p.set(payloadKeys[k], v)
	})
	if err != nil {
		return Payload{}, err
	}
	return p, nil
}

// payloadKey is key's index in payloadKeys, -1 when it is none of them.
func payloadKey(key []byte) int {
	switch string(key) {
	case "operations":
		return 0
	case "env":
		return 1
	case "authorizers":
		return 2
	case "shard":
		return 3
	}
	return -1
}

// unknownField names a key only when it differs from a known one by case.
func unknownField(key string) error {
	for _, k := range payloadKeys {
		if strings.EqualFold(k, key) {
			return &PayloadError{Reason: fmt.Sprintf("unknown field %q; keys are case-sensitive: write %q", key, k)}
		}
	}
	if plainWord(key) {
		return &PayloadError{Reason: fmt.Sprintf("unknown field %q; a payload has only operations, env, authorizers and shard", key)}
	}
	return &PayloadError{Reason: "unknown field; a payload has only operations, env, authorizers and shard"}
}

// plainWord reports whether s is safe to echo in an error: 1 to 32 lower
// case letters and _, a mistyped name. Tokens, secrets, tickets and keys
// all have digits or capitals, so they are never echoed.
func plainWord(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '_' && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// set reads one field of a payload.
func (p *Payload) set(key string, v json.RawMessage) error {
	switch key {
	case "operations":
		var ops []string
		if json.Unmarshal(v, &ops) != nil {
			return &PayloadError{Reason: "operations must be a list of strings"}
		}
		checked, err := CheckOperations(ops)
		if err != nil {
			return err
		}
		p.Operations = checked
	case "env":
		var env string
		if json.Unmarshal(v, &env) != nil {
			return &PayloadError{Reason: "env must be a string"}
		}
		if err := CheckEnv(env); err != nil {
			return err
		}
		p.Env = env
	case "authorizers":
		var all string
		if json.Unmarshal(v, &all) == nil {
			if all != "all" {
				return &PayloadError{Reason: `authorizers must be "all" or a list of appids`}
			}
			p.All = true
			return nil
		}
		var list []string
		if json.Unmarshal(v, &list) != nil {
			return &PayloadError{Reason: `authorizers must be "all" or a list of appids`}
		}
		checked, err := CheckAuthorizers(list)
		if err != nil {
			return err
		}
		p.Authorizers = checked
	case "shard":
		var sh string
		if json.Unmarshal(v, &sh) != nil {
			return &PayloadError{Reason: `shard must be a string "K/N"`}
		}
		k, n, err := ParseShard(sh)
		if err != nil {
			return err
		}
		p.Shard = Shard{K: k, N: n}
	}
	return nil
}

// ParseQuery reads the payload fields of an HTTP query string: operations
// (comma-separated, the parameter may repeat), env, authorizers ("all" or
// comma-separated appids) and shard ("K/N"), each of the last three given
// at most once. Other parameters are ignored.
func ParseQuery(q url.Values) (Payload, error) {
	var p Payload
	if vs, ok := q["operations"]; ok {
		var ops []string
		for _, v := range vs {
			for _, op := range strings.Split(v, ",") {
				if op = strings.TrimSpace(op); op != "" {
					ops = append(ops, op)
				}
			}
		}
		checked, err := CheckOperations(ops)
		if err != nil {
			return Payload{}, err
		}
		p.Operations = checked
	}
	for _, key := range []string{"env", "authorizers", "shard"} {
		vs, ok := q[key]
		if !ok {
			continue
		}
		if len(vs) != 1 {
			return Payload{}, &PayloadError{Reason: "give " + key + " once"}
		}
		var err error
		switch key {
		case "env":
			err = CheckEnv(vs[0])
			p.Env = vs[0]
		case "authorizers":
			p.All, p.Authorizers, err = ParseAuthorizers(vs[0])
		case "shard":
			p.Shard.K, p.Shard.N, err = ParseShard(vs[0])
		}
		if err != nil {
			return Payload{}, err
		}
	}
	return p, nil
}

// ParseAuthorizers reads the query form of authorizers: "all", or appids
// separated by commas (spaces around them are ignored).
func ParseAuthorizers(s string) (all bool, list []string, err error) {
	if s == "all" {
		return true, nil, nil
	}
	if strings.EqualFold(strings.TrimSpace(s), "all") {
		return false, nil, &PayloadError{Reason: `authorizers: write "all" in lower case`}
	}
	if strings.Count(s, ",") >= MaxAuthorizers {
		return false, nil, &PayloadError{Reason: fmt.Sprintf("authorizers: more than %d appids", MaxAuthorizers)}
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	list, err = CheckAuthorizers(parts)
	return false, list, err
}

// CheckAuthorizers validates an authorizer appid list: 1 to MaxAuthorizers
// appids of 1 to 64 characters of A-Z, a-z, 0-9 and _, none repeated.
func CheckAuthorizers(list []string) ([]string, error) {
	switch {
	case len(list) == 0:
		return nil, &PayloadError{Reason: `authorizers: the list is empty; name appids or "all"`}
	case len(list) > MaxAuthorizers:
		return nil, &PayloadError{Reason: fmt.Sprintf("authorizers: more than %d appids", MaxAuthorizers)}
	}
	seen := make(map[string]struct{}, len(list))
	for i, id := range list {
		if !ValidAppID(id) {
			return nil, &PayloadError{Reason: fmt.Sprintf("authorizers: appid %d of %d is not 1 to %d characters of A-Z, a-z, 0-9 and _", i+1, len(list), MaxAppIDLen)}
		}
		if _, dup := seen[id]; dup {
			return nil, &PayloadError{Reason: fmt.Sprintf("authorizers: appid %d of %d repeats an earlier one", i+1, len(list))}
		}
		seen[id] = struct{}{}
	}
	return slices.Clone(list), nil
}

// ValidAppID reports whether s is 1 to 64 characters of A-Z, a-z, 0-9, _.
func ValidAppID(s string) bool { return appid.Valid(s) }

// ParseShard reads "K/N": decimal integers with 0 ≤ K < N ≤ MaxShards.
func ParseShard(s string) (k, n int, err error) {
	ks, ns, ok := strings.Cut(s, "/")
	k, kok := smallUint(ks)
	n, nok := smallUint(ns)
	if !ok || !kok || !nok {
		return 0, 0, &PayloadError{Reason: fmt.Sprintf(`shard must be "K/N" with whole numbers 0 ≤ K < N ≤ %d, such as "0/4"`, MaxShards)}
	}
	if n < 1 || n > MaxShards || k >= n {
		return 0, 0, &PayloadError{Reason: fmt.Sprintf("shard %d/%d is outside 0 ≤ K < N ≤ %d", k, n, MaxShards)}
	}
	return k, n, nil
}

// smallUint reads 1 to 4 decimal digits.
func smallUint(s string) (int, bool) {
	if len(s) == 0 || len(s) > 4 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i]-'0' >= 10 {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// CheckOperations validates an operation list: not empty, every name
// known, none repeated (as WXCLOUDENV_OPERATIONS).
//
// The operation start_push_ticket asks WeChat to start pushing verify
// tickets to the authorization-event URL (docs/contract.md#authorization-events);
// it runs alone.
func CheckOperations(ops []string) ([]string, error) {
	if len(ops) == 0 {
		return nil, &PayloadError{Reason: "the operation list is empty; name getenvinfo, describecloudbaserunenvs or both"}
	}
	if slices.Contains(ops, OpStartPushTicket) {
		if len(ops) != 1 {
			return nil, &PayloadError{Reason: OpStartPushTicket + " runs alone"}
		}
		return ops, nil
	}
	out := make([]string, 0, len(ops))
	for i, op := range ops {
		if !config.KnownOperation(op) {
			return nil, &PayloadError{Reason: fmt.Sprintf("operation %d of %d: %s", i+1, len(ops), config.UnknownOperation(op))}
		}
		if slices.Contains(out, op) {
			return nil, &PayloadError{Reason: "operation " + op + " is listed twice"}
		}
		out = append(out, op)
	}
	return out, nil
}

// CheckEnv validates an environment id.
func CheckEnv(env string) error {
	if !config.ValidEnv(env) {
		return &PayloadError{Reason: fmt.Sprintf("env (%d bytes) is not 1 to 128 characters of A-Z, a-z, 0-9, _ and -", len(env))}
	}
	return nil
}

// jsonReason turns a decoding error into a short reason.
func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("%s must be %s, not %s", te.Field, jsonType(te.Type.String()), te.Value)
		}
		return fmt.Sprintf("want %s, not %s", jsonType(te.Type.String()), te.Value)
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.HasPrefix(msg, "unknown field ") {
		return msg + "; a payload has only operations and env"
	}
	if err.Error() == "unexpected EOF" {
		return "the JSON ends early"
	}
	return msg
}

func jsonType(goType string) string {
	switch {
	case strings.Contains(goType, "[]string"):
		return "a list of strings"
	case strings.Contains(goType, "string"):
		return "a string"
	}
	return "an object"
}
