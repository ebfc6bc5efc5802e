package scan

import (
	"reflect"
	"testing"
)

// FuzzStreamedScan is a differential test of streamed reading against
// whole-buffer reading: the same bytes, arriving in any chunking, give the
// same answer, health and error.
func FuzzStreamedScan(f *testing.F) {
	for _, s := range []string{`{"errcode":0,"errmsg":"ok","info_list":[]}`, `{"errcode":-1,"errmsg":"system error rid: a-b-c"}`,
		`{"env_list":[{"env_id":"a","status":"UNAVAILABLE","databases":[{"instance_id":"d","status":"UNUSABLE"}],"static_storages":[{"bucket":"b","status":"offline"}]}]}`,
		`{"info_list":[{"env":"x\u0041","alias":"\ud83d\ude00","status":"NORM\u0041L"},null,{"status":null}]}`,
		`{"errcode":123456789012,"info_list":[]}`, `{"a":[1,2.5e-3,-0,true,false,null,{"b":"\n"}]}`, `{"a":1}x`, `{"a":"\u00`, `[`, ``,
	} {
		f.Add([]byte(s), uint8(1), uint8(0))
		f.Add([]byte(s), uint8(7), uint8(1))
	}
	f.Fuzz(func(t *testing.T, raw []byte, step, pick uint8) {
		fs := fuzzShapes[int(pick)%len(fuzzShapes)]
		whole, werr := Scan(raw, fs.want, fs.shape, keepAll)

		// Chunk sizes cycle through 1..step+1, so a token can be cut
		// anywhere.
		sizes := int(step)%17 + 1
		n, k := 0, 0
		streamed, serr := Stream(func(have int) []byte {
			if n >= len(raw) {
				return nil
			}
			k = k%sizes + 1
			n = min(len(raw), n+k)
			return raw[:n:n]
		}, fs.want, fs.shape, keepAll)
		if (werr == nil) != (serr == nil) || (werr != nil && werr.Error() != serr.Error()) {
			t.Fatalf("errors differ on %q: whole %v, streamed %v", raw, werr, serr)
		}
		if werr != nil {
			return
		}
		streamed.keep, whole.keep = nil, nil
		streamed.pending, whole.pending = nil, nil
		if !reflect.DeepEqual(whole, streamed) {
			t.Fatalf("answers differ on %q:\nwhole    %+v\nstreamed %+v", raw, whole, streamed)
		}
	})
}
