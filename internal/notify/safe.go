package notify

import (
	"strings"
	"unicode"
)

// MaxNameBytes bounds a merchant's name in a line.
const MaxNameBytes = 64

// markdownLookalikes replaces the characters WeCom's and DingTalk's
// markdown give a meaning to inside a line (emphasis, links, images, code,
// strike-through, escapes, entities, HTML-like tags such as <font> and
// <@userid> mentions) with full-width lookalikes: the name reads the same
// and means nothing. Block markup (headings, lists, quotes, tables) needs
// the start of a line, which a name never has: Safe keeps it on one line
// and every line starts with its label.
var markdownLookalikes = strings.NewReplacer(
	"*", "＊", "_", "＿", "`", "｀", "[", "［", "]", "］", "<", "＜", ">", "＞",
	"~", "～", "\\", "＼", "@", "＠", "&", "＆",
)

// textLookalikes replaces what Feishu's text messages interpret: the
// <at user_id="all"> tag (an @-everyone) and its kin.
var textLookalikes = strings.NewReplacer("<", "＜", ">", "＞", "@", "＠", "&", "＆")

// Safe renders an untrusted text — a merchant's name, which anyone can
// choose — harmless in a message to a robot of kind k: one line, no
// control or format characters, nothing that k's markup would read as
// emphasis, a link, a mention or a tag, and at most MaxNameBytes bytes.
func Safe(k Kind, s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r), r == '\u2028', r == '\u2029':
			return ' '
		case unicode.Is(unicode.Cf, r): // bidi overrides, zero-width joiners
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.Join(strings.Fields(s), " ")
	if k == Feishu {
		s = textLookalikes.Replace(s)
	} else {
		s = markdownLookalikes.Replace(s)
	}
	return clean(s, MaxNameBytes)
}
