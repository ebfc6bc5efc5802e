package emf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits of the EMF specification and of CloudWatch metrics.
const (
	maxLine          = 1 << 20 // a CloudWatch Logs event
	maxDimsPerSet    = 30
	maxMetrics       = 100
	maxValues        = 100
	maxNameLen       = 255
	maxNamespaceLen  = 255
	maxDimensionName = 255
)

// units are CloudWatch's standard units.
var units = map[string]bool{
	"Seconds": true, "Microseconds": true, "Milliseconds": true,
	"Bytes": true, "Kilobytes": true, "Megabytes": true, "Gigabytes": true, "Terabytes": true,
	"Bits": true, "Kilobits": true, "Megabits": true, "Gigabits": true, "Terabits": true,
	"Percent": true, "Count": true,
	"Bytes/Second": true, "Kilobytes/Second": true, "Megabytes/Second": true, "Gigabytes/Second": true, "Terabytes/Second": true,
	"Bits/Second": true, "Kilobits/Second": true, "Megabits/Second": true, "Gigabits/Second": true, "Terabits/Second": true,
	"Count/Second": true, "None": true,
}

// Validate checks that line is a valid EMF document: one JSON object (and
// nothing else) of at most 1 MiB, with an "_aws" object whose Timestamp is
// a non-negative integer number of milliseconds and whose CloudWatchMetrics
// is a non-empty array of directives; each directive has a Namespace
// (1–255 printable ASCII characters), Dimensions (an array of dimension
// sets, each an array of at most 30 names, each name present at the top
// level as a valid dimension value: a printable ASCII string of 1–1024
// bytes, not only spaces) and Metrics (1–100 definitions with a Name of
// 1–255 characters, an optional standard Unit and StorageResolution 1 or
// 60; each Name present at the top level as a number or an array of at
// most 100 numbers).
func Validate(line []byte) error {
	if len(line) > maxLine {
		return fmt.Errorf("emf: line is %d bytes, over %d", len(line), maxLine)
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var root map[string]json.RawMessage
	if err := dec.Decode(&root); err != nil {
		return fmt.Errorf("emf: not a JSON object: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("emf: data after the JSON object")
	}
	raw, ok := root["_aws"]
	if !ok {
		return errors.New("emf: no _aws member")
	}
	var md struct {
		Timestamp         json.RawMessage   `json:"Timestamp"`
		CloudWatchMetrics []json.RawMessage `json:"CloudWatchMetrics"`
	}
	if err := strictDecode(raw, &md); err != nil {
		return fmt.Errorf("emf: _aws: %w", err)
	}
	if !isNumber(md.Timestamp) || bytes.ContainsAny(md.Timestamp, ".eE-") {
		return errors.New("emf: _aws.Timestamp is not a non-negative integer number")
	}
	if len(md.CloudWatchMetrics) == 0 {
		return errors.New("emf: _aws.CloudWatchMetrics is missing or empty")
	}
	for i, d := range md.CloudWatchMetrics {
		if err := validateDirective(root, d); err != nil {
			return fmt.Errorf("emf: CloudWatchMetrics[%d]: %w", i, err)
		}
	}
	return nil
}

func validateDirective(root map[string]json.RawMessage, raw json.RawMessage) error {
	var d struct {
		Namespace  *string           `json:"Namespace"`
		Dimensions [][]string        `json:"Dimensions"`
		Metrics    []json.RawMessage `json:"Metrics"`
	}
	if err := strictDecode(raw, &d); err != nil {
		return err
	}
	if d.Namespace == nil || len(*d.Namespace) == 0 || len(*d.Namespace) > maxNamespaceLen || !printableASCII(*d.Namespace) {
		return errors.New("the Namespace must be 1–255 printable ASCII characters")
	}
	if d.Dimensions == nil {
		return errors.New("no Dimensions array")
	}
	for j, set := range d.Dimensions {
		if len(set) > maxDimsPerSet {
			return fmt.Errorf("dimension set %d has %d dimensions, over %d", j, len(set), maxDimsPerSet)
		}
		for _, name := range set {
			if name == "" || len(name) > maxDimensionName || !printableASCII(name) || strings.HasPrefix(name, ":") {
				return fmt.Errorf("dimension name %q is invalid", name)
			}
			var v *string
			if err := json.Unmarshal(root[name], &v); err != nil || v == nil {
				return fmt.Errorf("dimension %q is not a top-level string", name)
			}
			if len(*v) == 0 || len(*v) > maxDimensionValue || !printableASCII(*v) || strings.TrimSpace(*v) == "" {
				return fmt.Errorf("dimension %q has an invalid value %q", name, *v)
			}
		}
	}
	if len(d.Metrics) == 0 || len(d.Metrics) > maxMetrics {
		return fmt.Errorf("%d metrics, want 1–%d", len(d.Metrics), maxMetrics)
	}
	seen := map[string]bool{}
	for _, m := range d.Metrics {
		var def struct {
			Name              *string `json:"Name"`
			Unit              *string `json:"Unit"`
			StorageResolution *int    `json:"StorageResolution"`
		}
		if err := strictDecode(m, &def); err != nil {
			return fmt.Errorf("metric definition: %w", err)
		}
		if def.Name == nil || len(*def.Name) == 0 || len(*def.Name) > maxNameLen {
			return errors.New("metric Name must be 1–255 characters")
		}
		name := *def.Name
		if seen[name] {
			return fmt.Errorf("metric %q defined twice", name)
		}
		seen[name] = true
		if def.Unit != nil && !units[*def.Unit] {
			return fmt.Errorf("metric %q has unit %q, not a CloudWatch unit", name, *def.Unit)
		}
		if def.StorageResolution != nil && *def.StorageResolution != 1 && *def.StorageResolution != 60 {
			return fmt.Errorf("metric %q has StorageResolution %d, want 1 or 60", name, *def.StorageResolution)
		}
		if err := metricValue(root[name]); err != nil {
			return fmt.Errorf("metric %q: %w", name, err)
		}
	}
	return nil
}

// metricValue checks a top-level metric member: a number, or an array of at
// most 100 numbers.
func metricValue(raw json.RawMessage) error {
	if raw == nil {
		return errors.New("no top-level member")
	}
	if isNumber(raw) {
		return nil
	}
	var ns []json.RawMessage
	if err := json.Unmarshal(raw, &ns); err != nil || ns == nil {
		return errors.New("top-level member is not a number nor an array of numbers")
	}
	if len(ns) == 0 || len(ns) > maxValues {
		return fmt.Errorf("%d values, want 1–%d", len(ns), maxValues)
	}
	for _, v := range ns {
		if !isNumber(v) {
			return errors.New("top-level array holds a value that is not a number")
		}
	}
	return nil
}

// strictDecode decodes raw into v, refusing unknown members.
func strictDecode(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return errors.New("missing")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// isNumber reports whether raw is a JSON number (not a string, not null).
func isNumber(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return false
	}
	var n json.Number
	return json.Unmarshal(raw, &n) == nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
