package emf

import (
	"encoding/json"
	"testing"
)

// TestMetadataJSONIsEncodingJSON: the "_aws" member written without
// reflection is byte for byte what encoding/json writes for the same
// Metadata.
func TestMetadataJSONIsEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, ms := range []int64{0, 1, 1700000000123, -5} {
		want, err := json.Marshal(metadata(ms))
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(metadataJSON{ms})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("ms %d:\n got %s\nwant %s", ms, got, want)
		}
	}
}
