package notify

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSafe(t *testing.T) {
	tests := []struct {
		name, in string
		kinds    []Kind
		want     string
	}{
		{name: "plain Chinese name kept", in: "测试商户（北京）", kinds: []Kind{WeCom, DingTalk, Feishu}, want: "测试商户（北京）"},
		{name: "markdown emphasis and link", in: "**Big** [click](http://evil.example)", kinds: []Kind{WeCom, DingTalk},
			want: "＊＊Big＊＊ ［click］(http://evil.example)"},
		{name: "quote sign", in: "# > shop-1", kinds: []Kind{WeCom, DingTalk}, want: "# ＞ shop-1"},
		{name: "WeCom mention and font tags", in: `<@all><font color="warning">x</font>`, kinds: []Kind{WeCom},
			want: `＜＠all＞＜font color="warning"＞x＜/font＞`},
		{name: "Feishu at-everyone", in: `<at user_id="all">所有人</at>`, kinds: []Kind{Feishu}, want: `＜at user_id="all"＞所有人＜/at＞`},
		{name: "Feishu keeps markdown-looking text", in: "**x** [y](z)", kinds: []Kind{Feishu}, want: "**x** [y](z)"},
		{name: "newlines cannot start a line", in: "shop\n- **FAILING** fake\r\n### title", kinds: []Kind{WeCom, DingTalk},
			want: "shop - ＊＊FAILING＊＊ fake ### title"},
		{name: "control and format characters", in: "a\x00b\x1b[31mc\u202ed\u200be", kinds: []Kind{WeCom, DingTalk}, want: "a b ［31mcde"},
		{name: "control and format characters", in: "a\x00b\x1b[31mc\u202ed\u200be", kinds: []Kind{Feishu}, want: "a b [31mcde"},
		{name: "invalid UTF-8", in: "a\xffb", kinds: []Kind{Feishu}, want: "a\uFFFDb"},
	}
	for _, tt := range tests {
		for _, k := range tt.kinds {
			t.Run(tt.name+"/"+string(k), func(t *testing.T) {
				if got := Safe(k, tt.in); got != tt.want {
					t.Fatalf("Safe(%s, %q) = %q, want %q", k, tt.in, got, tt.want)
				}
			})
		}
	}
}

func TestSafeBounded(t *testing.T) {
	long := strings.Repeat("商", 100)
	for _, k := range []Kind{WeCom, DingTalk, Feishu} {
		got := Safe(k, long)
		if len(got) > MaxNameBytes || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
			t.Fatalf("Safe(%s, long) = %q (%d bytes)", k, got, len(got))
		}
	}
}

func FuzzSafe(f *testing.F) {
	for _, s := range []string{"**x**", "<at user_id=\"all\">", "\n# h", "a\xffb", "[a](b)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range []Kind{WeCom, DingTalk, Feishu} {
			got := Safe(k, s)
			if len(got) > MaxNameBytes || !utf8.ValidString(got) || strings.ContainsAny(got, "\n\r<>") {
				t.Fatalf("Safe(%s, %q) = %q", k, s, got)
			}
			if k != Feishu && strings.ContainsAny(got, "*_`[]~\\") {
				t.Fatalf("Safe(%s, %q) = %q keeps markdown", k, s, got)
			}
		}
	})
}
