// Package jsonw appends JSON by hand where encoding/json's reflection
// would cost a warm invocation or a cold start (the event, the history
// record, the log line); tests hold each writer to encoding/json.
package jsonw

import "encoding/json"

// AppendString appends s as a JSON string, escaped as json.Marshal
// escapes it (HTML characters included); plain ASCII is copied as is.
func AppendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
