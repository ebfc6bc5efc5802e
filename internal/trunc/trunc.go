// Package trunc is the one place that shortens a text for a bounded
// field: at a rune boundary, so that valid UTF-8 stays valid, with an
// ellipsis that says something was cut.
package trunc

import "unicode/utf8"

// Ellipsis ends a text that Cut shortened.
const Ellipsis = "…"

// Cut returns s when it is at most n bytes, and otherwise its longest
// prefix that ends at a rune boundary and, with Ellipsis appended, is at
// most n bytes. With n below len(Ellipsis) the result is just Ellipsis.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n-len(Ellipsis), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + Ellipsis
}
