package scan

import (
	"encoding/binary"
	"math/bits"
	"strconv"
)

// syntaxError is a place where the answer stops being JSON.
type syntaxError struct {
	msg string
	off int
}

// scanner validates JSON over data. When more is set, data is what has
// arrived so far: more(n) waits until more than n bytes have, and returns
// them all, or returns nil at the end of the input.
type scanner struct {
	data []byte
	pos  int
	more func(n int) []byte
}

// have reports whether data[i] exists, waiting for more input if needed.
func (s *scanner) have(i int) bool {
	return i < len(s.data) || s.wait(i)
}

// wait gets more input until data[i] exists or the input ends.
func (s *scanner) wait(i int) bool {
	for i >= len(s.data) {
		if s.more == nil {
			return false
		}
		d := s.more(len(s.data))
		if len(d) <= len(s.data) {
			return false
		}
		s.data = d
	}
	return true
}

func (s *scanner) fail(msg string) error {
	return &syntaxError{msg: msg, off: s.pos}
}

func (s *scanner) unexpected() error {
	if !s.have(s.pos) {
		return s.fail("unexpected end of JSON input")
	}
	return s.fail("invalid character " + strconv.QuoteRune(rune(s.data[s.pos])))
}

// next skips whitespace and returns the next byte without consuming it,
// or 0 at the end of the input.
func (s *scanner) next() byte {
	if d, p := s.data, s.pos; uint(p) < uint(len(d)) && d[p] > ' ' {
		return d[p]
	}
	return s.skipSpace()
}

// skipSpace is next past whitespace or at the end of what has arrived.
func (s *scanner) skipSpace() byte {
	for s.have(s.pos) {
		for s.pos < len(s.data) {
			c := s.data[s.pos]
			if c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
				return c
			}
			s.pos++
		}
	}
	return 0
}

// end checks that only whitespace follows the value.
func (s *scanner) end() error {
	s.next()
	if s.have(s.pos) {
		return s.fail("invalid character " + strconv.QuoteRune(rune(s.data[s.pos])) + " after top-level value")
	}
	return nil
}

// value validates one value of any kind at the given nesting depth.
func (s *scanner) value(depth int) error {
	switch c := s.next(); {
	case c == '"':
		_, err := s.str()
		return err
	case c == '{':
		return s.object(depth, nil)
	case c == '[':
		return s.array(depth, nil)
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.unexpected()
}

// object validates an object, calling member with each key (unescaped)
// when the scanner is at the member's value; member must consume it. A nil
// member only validates the values.
func (s *scanner) object(depth int, member func(key []byte) error) error {
	if depth++; depth > maxDepth {
		return s.fail("exceeded max depth")
	}
	s.pos++ // {
	if s.next() == '}' {
		s.pos++
		return nil
	}
	for {
		if s.next() != '"' {
			return s.unexpected()
		}
		start := s.pos
		esc, err := s.str()
		if err != nil {
			return err
		}
		end := s.pos
		if s.next() != ':' {
			return s.unexpected()
		}
		s.pos++
		if member == nil {
			err = s.value(depth)
		} else {
			key := s.data[start+1 : end-1]
			if esc {
				key = []byte(decodeString(s.data[start:end], true))
			}
			err = member(key)
		}
		if err != nil {
			return err
		}
		switch s.next() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.unexpected()
		}
	}
}

// array validates an array, calling elem when the scanner is at each
// element; elem must consume it. A nil elem only validates the elements.
func (s *scanner) array(depth int, elem func() error) error {
	if depth++; depth > maxDepth {
		return s.fail("exceeded max depth")
	}
	s.pos++ // [
	if s.next() == ']' {
		s.pos++
		return nil
	}
	for {
		var err error
		if elem == nil {
			err = s.value(depth)
		} else {
			err = elem()
		}
		if err != nil {
			return err
		}
		switch s.next() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.unexpected()
		}
	}
}

// str validates the string starting at s.pos and moves past it. It reports
// whether the string has escapes.
func (s *scanner) str() (esc bool, err error) {
	s.pos++ // "
	i := s.pos
	for {
		data := s.data
		// Eight bytes at a time while none is a quote, a backslash or a
		// control character. The lowest flagged byte is exact: a false
		// flag can only sit above a true one.
		for i+8 <= len(data) {
			w := binary.LittleEndian.Uint64(data[i:])
			q, b := w^quotes, w^slashs
			if m := ((q-ones)&^q | (b-ones)&^b | (w-ones*0x20)&^w) & highs; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if !s.have(i) {
			s.pos = i
			return esc, s.fail("unexpected end of JSON input")
		}
		data = s.data
		switch c := data[i]; {
		case c == '"':
			s.pos = i + 1
			return esc, nil
		case c == '\\':
			esc = true
			if !s.have(i + 1) {
				s.pos = i + 1
				return esc, s.fail("unexpected end of JSON input")
			}
			switch s.data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if !s.have(k) {
						s.pos = k
						return esc, s.fail("unexpected end of JSON input")
					}
					if !isHex(s.data[k]) {
						s.pos = k
						return esc, s.fail("invalid character " + strconv.QuoteRune(rune(s.data[k])) + " in \\u hexadecimal character escape")
					}
				}
				i += 6
			default:
				s.pos = i + 1
				return esc, s.fail("invalid character " + strconv.QuoteRune(rune(s.data[i+1])) + " in string escape code")
			}
		case c < 0x20:
			s.pos = i
			return esc, s.fail("invalid character " + strconv.QuoteRune(rune(c)) + " in string literal")
		default:
			i++
		}
	}
}

func isHex(c byte) bool {
	return c-'0' < 10 || (c|0x20)-'a' < 6
}

func isDigit(c byte) bool { return c-'0' < 10 }

// number validates a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	if s.is(s.pos, '-') {
		s.pos++
	}
	switch {
	case s.is(s.pos, '0'):
		s.pos++
	case s.digit(s.pos):
		s.digits()
	default:
		return s.unexpected()
	}
	if s.is(s.pos, '.') {
		s.pos++
		if !s.digit(s.pos) {
			return s.unexpected()
		}
		s.digits()
	}
	if s.is(s.pos, 'e') || s.is(s.pos, 'E') {
		s.pos++
		if s.is(s.pos, '+') || s.is(s.pos, '-') {
			s.pos++
		}
		if !s.digit(s.pos) {
			return s.unexpected()
		}
		s.digits()
	}
	return nil
}

// literal validates true, false or null.
func (s *scanner) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if !s.is(s.pos, word[k]) {
			return s.unexpected()
		}
		s.pos++
	}
	return nil
}
