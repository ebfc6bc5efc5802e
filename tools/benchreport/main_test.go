package main

import (
	"os"
	"testing"
)

func TestParseAndMedian(t *testing.T) {
	f, err := os.Open("testdata/bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := parse(f)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		bench, metric string
		want          float64
		n             int
	}{
		{"BenchmarkWarm/baseline", "ns/op", 52000, 3},
		{"BenchmarkWarm/wxcloudenv", "ns/op", 55000, 2},
		{"BenchmarkWarm/wxcloudenv", "allocs/op", 305, 2},
		{"BenchmarkMintedTokens", "component-mints", 1, 1},
		{"BenchmarkBinarySize/baseline", "binary-B", 5832866, 1},
	}
	for _, tt := range tests {
		v := data[tt.bench][tt.metric]
		got, ok := median(v)
		if !ok || got != tt.want || len(v) != tt.n {
			t.Errorf("%s %s: median of %v = %v, want %v over %d runs", tt.bench, tt.metric, v, got, tt.want, tt.n)
		}
	}
	if _, ok := median(data["BenchmarkNone"]["ns/op"]); ok {
		t.Error("median of nothing is not a value")
	}
}

func TestFormat(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		unit string
		want string
	}{
		{51372, "ns/op", "51.4 µs"},
		{4.1e6, "ns/op", "4.10 ms"},
		{11151504, "B/op", "10.63 MiB"},
		{6422690, "binary-B", "6.13 MiB"},
		{305, "allocs/op", "305"},
	} {
		if got := format(tt.v, tt.unit); got != tt.want {
			t.Errorf("format(%v, %q) = %q, want %q", tt.v, tt.unit, got, tt.want)
		}
	}
}
