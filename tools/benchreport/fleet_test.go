package main

import (
	"os"
	"strings"
	"testing"
)

func TestReportFleet(t *testing.T) {
	f, err := os.Open("testdata/fleet.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := parse(f)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	missed, notRun := reportFleet(&out, data)
	// 13.2 s / 1.1 s = 12× misses the growth target; one component mint
	// in the second run misses its =0.
	if missed != 2 || notRun != 0 {
		t.Errorf("missed %d, not run %d; want 2 and 0\n%s", missed, notRun, out.String())
	}
	for _, want := range []string{
		"1.023×   ≤1.15×  met",
		"9.92×       12.00×",
		"106.04 MiB",
		"12.00×              ≤11×  MISSED",
		"<128.00 MiB  met",
		"0                =0  met",
		"1                =0  MISSED",
		"4.826\n",
		"SQS requests                        -          554",
		"63.78 MiB          <128.00 MiB  met",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	missed, notRun = reportFleet(&out, nil)
	if missed != 0 || notRun != len(fleetFigures) {
		t.Errorf("with no data: missed %d, not run %d", missed, notRun)
	}
}
