// Package appid holds the one rule for what an appid may be
// (docs/contract.md#the-fleet): 1 to MaxLen characters of [A-Za-z0-9_].
// Every place that reads an appid from outside (a payload, a route, a
// push, a queued batch, a variable) checks it with Valid.
package appid

// MaxLen is the longest appid accepted.
const MaxLen = 64

// Valid reports whether s is 1 to MaxLen characters of [A-Za-z0-9_].
func Valid(s string) bool {
	if s == "" || len(s) > MaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
