package emf

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
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

// TestAttrsCarryEveryDeclaredMetric: the metric values Attrs writes are
// exactly metricNames, in order, so the constant directives declare every
// metric a line carries.
func TestAttrsCarryEveryDeclaredMetric(t *testing.T) {
	t.Parallel()
	var got []string
	for _, a := range Attrs("fn", time.Unix(0, 0), Metrics{}) {
		if a.Key != "_aws" && a.Key != Dimension {
			got = append(got, a.Key)
		}
	}
	if !slices.Equal(got, metricNames) {
		t.Errorf("Attrs writes metrics %q, the directives declare %q", got, metricNames)
	}
}
