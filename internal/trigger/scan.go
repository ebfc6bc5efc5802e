package trigger

import (
	"encoding/json"
)

// members calls fn with each member of the JSON object obj, in order: its
// key, decoded, and its value as written. obj must be one valid JSON
// object (json.Valid, first byte '{'), which is what lets the scan skip
// values without checking them. A key is decoded as encoding/json decodes
// it (escapes, invalid UTF-8 as U+FFFD); a key of plain ASCII without
// escapes is a slice of obj.
func members(obj []byte, fn func(key, val []byte)) {
	i := skipSpace(obj, 1)
	if i >= len(obj) || obj[i] == '}' {
		return
	}
	for i < len(obj) {
		// obj[i] is the key's opening quote.
		end, plain := stringEnd(obj, i)
		key := obj[i+1 : end-1]
		if !plain {
			var k string
			_ = json.Unmarshal(obj[i:end], &k)
			key = []byte(k)
		}
		i = skipSpace(obj, end)
		i = skipSpace(obj, i+1) // the colon
		vend := valueEnd(obj, i)
		fn(key, obj[i:vend])
		i = skipSpace(obj, vend)
		if i >= len(obj) || obj[i] == '}' {
			return
		}
		i = skipSpace(obj, i+1) // the comma
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringEnd returns the index after the string starting at b[i] (a
// quote), and whether it is plain ASCII without escapes.
func stringEnd(b []byte, i int) (int, bool) {
	plain := true
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, plain
		case c == '\\':
			plain = false
			i++
		case c >= 0x80:
			plain = false
		}
	}
	return len(b), false
}

// valueEnd returns the index after the value starting at b[i].
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i, _ = stringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// stringValue is what json.Unmarshal into a string gives for val: its
// text when val is a string, "" otherwise.
func stringValue(val []byte) string {
	if len(val) < 2 || val[0] != '"' {
		return ""
	}
	if end, plain := stringEnd(val, 0); plain && end == len(val) {
		return string(val[1 : len(val)-1])
	}
	var s string
	_ = json.Unmarshal(val, &s)
	return s
}

// shape is what recognition looks at in an event's top-level members
// (the last of a repeated key, as a map decode keeps it).
type shape struct {
	version, requestContext, httpMethod, resource, path, headers []byte
	detailType, source, typ, triggerName                         []byte
	// The requestContext's members.
	ctxHTTP, ctxServiceID []byte
}

// shapeOf reads raw's shape; raw is one valid JSON object.
func shapeOf(raw []byte) shape {
	var s shape
	members(raw, func(key, val []byte) {
		switch string(key) {
		case "version":
			s.version = val
		case "requestContext":
			s.requestContext = val
		case "httpMethod":
			s.httpMethod = val
		case "resource":
			s.resource = val
		case "path":
			s.path = val
		case "headers":
			s.headers = val
		case "detail-type":
			s.detailType = val
		case "source":
			s.source = val
		case "Type":
			s.typ = val
		case "TriggerName":
			s.triggerName = val
		}
	})
	if present(s.requestContext) && s.requestContext[0] == '{' {
		members(s.requestContext, func(key, val []byte) {
			switch string(key) {
			case "http":
				s.ctxHTTP = val
			case "serviceId":
				s.ctxServiceID = val
			}
		})
	}
	return s
}

// present reports whether a member was given and is not null.
func present(val []byte) bool { return val != nil && string(val) != "null" }
