package wechat

import (
	"net/url"
	"strconv"
)

// A secret's URL-encoded forms are kept as the secret itself and the
// encoding that makes them (kept.w's bits 1 and 2): a fleet's refresh
// tokens ("refreshtoken@@@…") differ from their URL-encoded forms, and
// keeping a second string for each would cost tens of thousands of
// allocations. The encodings are byte by byte, so a form's bytes are
// produced as they are compared; TestFormEncodings holds them to
// net/url's for every byte.
const (
	encNone  = 0 // the form is the string kept
	encQuery = 1 // url.QueryEscape of it
	encPath  = 2 // url.PathEscape of it
)

// encodedByte returns how enc writes c: c itself, '+' (a space in a
// query) or '%' and two upper-case hex digits, as net/url does.
func encodedByte(enc uint8, c byte) (b [3]byte, n int) {
	switch {
	case enc == encNone,
		'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
		c == '-', c == '_', c == '.', c == '~':
		return [3]byte{c}, 1
	case enc == encQuery && c == ' ':
		return [3]byte{'+'}, 1
	case enc == encPath && (c == '$' || c == '&' || c == '+' || c == ':' || c == '=' || c == '@'):
		return [3]byte{c}, 1
	}
	const hex = "0123456789ABCDEF"
	return [3]byte{'%', hex[c>>4], hex[c&15]}, 3
}

// encodedLen is the length of v written by enc.
func encodedLen(enc uint8, v string) int {
	if enc == encNone {
		return len(v)
	}
	n := 0
	for i := 0; i < len(v); i++ {
		_, k := encodedByte(enc, v[i])
		n += k
	}
	return n
}

// encodedCommonPrefix returns how many leading bytes v written by enc
// shares with text.
func encodedCommonPrefix(enc uint8, v, text string) int {
	if enc == encNone {
		return commonPrefix(v, text)
	}
	n := 0
	for i := 0; i < len(v); i++ {
		b, k := encodedByte(enc, v[i])
		for j := range k {
			if n == len(text) || text[n] != b[j] {
				return n
			}
			n++
		}
	}
	return n
}

// encodedCompare compares v written by enc with f, as strings.Compare.
func encodedCompare(enc uint8, v, f string) int {
	if enc == encNone {
		switch {
		case v < f:
			return -1
		case v > f:
			return 1
		}
		return 0
	}
	n := encodedCommonPrefix(enc, v, f)
	total := encodedLen(enc, v)
	switch {
	case n == total && n == len(f):
		return 0
	case n == total:
		return -1 // v's form is a prefix of f
	case n == len(f):
		return 1
	}
	// The first differing byte decides.
	if encodedByteAt(enc, v, n) < f[n] {
		return -1
	}
	return 1
}

// encodedByteAt returns byte i of v written by enc; i is within it.
func encodedByteAt(enc uint8, v string, i int) byte {
	n := 0
	for k := 0; k < len(v); k++ {
		b, m := encodedByte(enc, v[k])
		if i < n+m {
			return b[i-n]
		}
		n += m
	}
	return 0
}

// secretForm is one form of a secret: the string that is it, and the
// encoding of the secret that makes it.
type secretForm struct {
	text string
	enc  uint8
}

// secretForms returns v and the forms it takes escaped: inside a Go or
// JSON quoted string and URL-encoded, each once.
func secretForms(v string) []secretForm {
	forms := make([]secretForm, 1, 4)
	forms[0] = secretForm{v, encNone}
	add := func(f string, enc uint8) {
		for _, g := range forms {
			if g.text == f {
				return
			}
		}
		forms = append(forms, secretForm{f, enc})
	}
	if q := strconv.Quote(v); len(q) >= 2 {
		add(q[1:len(q)-1], encNone)
	}
	add(url.QueryEscape(v), encQuery)
	add(url.PathEscape(v), encPath)
	return forms
}
