// Package emf writes wxcloudenv's metrics in CloudWatch Embedded Metric
// Format (EMF) on the invocation's log line, so that CloudWatch Logs turns
// them into metrics with no API call (docs/contract.md#the-log-line).
//
// Every line carries one directive: namespace "wxcloudenv", one dimension
// set [["FunctionName"]], and the five metrics Alerts, FailedOperations,
// Authorizers, FailedAuthorizers and DroppedNotifications, unit Count. One dimension set, and a
// value every instance of a function shares, means each metric is one
// CloudWatch time series per function, which is what an alarm watches
// (an alarm must name every dimension of the series it watches, so a
// per-request or per-authorizer dimension would make alarms impossible).
//
// Use it with log/slog's JSON handler:
//
//	logger.LogAttrs(ctx, slog.LevelInfo, "invocation", emf.Attrs(fn, time.Now(), m)...)
//
// which writes
//
//	{"time":"…","level":"INFO","msg":"invocation",
//	 "_aws":{"Timestamp":1763798400123,"CloudWatchMetrics":[{"Namespace":"wxcloudenv",
//	   "Dimensions":[["FunctionName"]],"Metrics":[{"Name":"Alerts","Unit":"Count"},…]}]},
//	 "FunctionName":"wxcloudenv-prod","Alerts":2,"FailedOperations":0,"Authorizers":120,"FailedAuthorizers":1,
//	 "DroppedNotifications":0}
package emf

import (
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

// Namespace is the CloudWatch namespace of every metric.
const Namespace = "wxcloudenv"

// Dimension is the one dimension of every metric.
const Dimension = "FunctionName"

// Metric names.
const (
	MetricAlerts            = "Alerts"
	MetricFailedOperations  = "FailedOperations"
	MetricAuthorizers       = "Authorizers"
	MetricFailedAuthorizers = "FailedAuthorizers"
	// MetricDroppedNotifications counts changes dropped after being owed
	// to a robot for 24 hours (docs/reliability.md).
	MetricDroppedNotifications = "DroppedNotifications"
	// MetricSilencedChanges counts changes and reminders a silence kept
	// from the robots (docs/silences-and-robots.md#silences).
	MetricSilencedChanges = "SilencedChanges"
	// The warnings' readings (docs/when-tokens-break.md), written only
	// when known.
	MetricVerifyTicketAgeSeconds = "VerifyTicketAgeSeconds"
	MetricQuotaRemainingPercent  = "QuotaRemainingPercent"
)

// maxDimensionValue is CloudWatch's limit on a dimension value's length.
const maxDimensionValue = 1024

// Metrics are one invocation's values.
type Metrics struct {
	// Alerts is the number of alerts in the event.
	Alerts int
	// FailedOperations is the number of operations that failed as a whole
	// (a fleet whose list or component token failed counts; one
	// authorizer's failure does not).
	FailedOperations int
	// Authorizers is the number of authorizers checked (0 when the run was
	// not a fleet run).
	Authorizers int
	// FailedAuthorizers is the number of authorizers whose check failed.
	FailedAuthorizers int
	// DroppedNotifications is the number of changes this run dropped
	// after they were owed to a robot for 24 hours (summed over robots).
	DroppedNotifications int
	// SilencedChanges is the number of changes and reminders a silence
	// kept from the robots.
	SilencedChanges int
	// VerifyTicketAgeSeconds is how old the newest verify ticket is, and
	// QuotaRemainingPercent the lowest remaining share of the component
	// APIs' daily quotas; nil when not known (the metric is then left out).
	VerifyTicketAgeSeconds *float64
	QuotaRemainingPercent  *float64
}

// Value returns a pointer to v, for the optional metrics.
func Value(v float64) *float64 { return &v }

// Metadata is the "_aws" member of an EMF line.
type Metadata struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []Directive `json:"CloudWatchMetrics"`
}

// Directive is one metric directive.
type Directive struct {
	Namespace  string       `json:"Namespace"`
	Dimensions [][]string   `json:"Dimensions"`
	Metrics    []Definition `json:"Metrics"`
}

// Definition names one metric and its unit.
type Definition struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

// Attrs returns the attributes to add at the top level of a JSON log line:
// the "_aws" metadata (Timestamp now, in milliseconds), the FunctionName
// dimension and the five metric values. functionName is
// AWS_LAMBDA_FUNCTION_NAME on Lambda, SCF_FUNCTIONNAME on SCF; empty means
// "local". It is made a valid dimension value: characters outside printable
// ASCII become "_", and it is cut to 1024 bytes.
func Attrs(functionName string, now time.Time, m Metrics) []slog.Attr {
	names := []string{MetricAlerts, MetricFailedOperations, MetricAuthorizers, MetricFailedAuthorizers, MetricDroppedNotifications,
		MetricSilencedChanges}
	defs := make([]Definition, len(names), len(names)+2)
	for i, n := range names {
		defs[i] = Definition{Name: n, Unit: "Count"}
	}
	var extra []slog.Attr
	if v := m.VerifyTicketAgeSeconds; v != nil {
		defs = append(defs, Definition{Name: MetricVerifyTicketAgeSeconds, Unit: "Seconds"})
		extra = append(extra, slog.Float64(MetricVerifyTicketAgeSeconds, *v))
	}
	if v := m.QuotaRemainingPercent; v != nil {
		defs = append(defs, Definition{Name: MetricQuotaRemainingPercent, Unit: "Percent"})
		extra = append(extra, slog.Float64(MetricQuotaRemainingPercent, *v))
	}
	md := Metadata{
		Timestamp: now.UnixMilli(),
		CloudWatchMetrics: []Directive{{
			Namespace:  Namespace,
			Dimensions: [][]string{{Dimension}},
			Metrics:    defs,
		}},
	}
	return append([]slog.Attr{
		slog.Any("_aws", md),
		slog.String(Dimension, DimensionValue(functionName)),
		slog.Int(MetricAlerts, m.Alerts),
		slog.Int(MetricFailedOperations, m.FailedOperations),
		slog.Int(MetricAuthorizers, m.Authorizers),
		slog.Int(MetricFailedAuthorizers, m.FailedAuthorizers),
		slog.Int(MetricDroppedNotifications, m.DroppedNotifications),
		slog.Int(MetricSilencedChanges, m.SilencedChanges),
	}, extra...)
}

// DimensionValue returns s as a valid CloudWatch dimension value: printable
// ASCII (others become "_"), at most 1024 bytes, "local" when empty or all
// spaces.
func DimensionValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '_'
		}
		return r
	}, s)
	if len(s) > maxDimensionValue {
		s = s[:maxDimensionValue]
	}
	if strings.TrimSpace(s) == "" {
		return "local"
	}
	return s
}

// AppendJSON appends to b the members that Attrs gives a JSON log line,
// in the same order and with the same values, without reflection: the
// "_aws" metadata, the FunctionName dimension and the metric values, as
// `"_aws":{…},"FunctionName":"…","Alerts":0,…` (no braces around them,
// no comma before them). A metric value that is not finite is written as
// null.
func AppendJSON(b []byte, functionName string, now time.Time, m Metrics) []byte {
	b = append(b, `"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, now.UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[{"Namespace":"`+Namespace+`","Dimensions":[["`+Dimension+`"]],"Metrics":[`+
		`{"Name":"`+MetricAlerts+`","Unit":"Count"},{"Name":"`+MetricFailedOperations+`","Unit":"Count"},`+
		`{"Name":"`+MetricAuthorizers+`","Unit":"Count"},{"Name":"`+MetricFailedAuthorizers+`","Unit":"Count"},`+
		`{"Name":"`+MetricDroppedNotifications+`","Unit":"Count"},{"Name":"`+MetricSilencedChanges+`","Unit":"Count"}`...)
	if m.VerifyTicketAgeSeconds != nil {
		b = append(b, `,{"Name":"`+MetricVerifyTicketAgeSeconds+`","Unit":"Seconds"}`...)
	}
	if m.QuotaRemainingPercent != nil {
		b = append(b, `,{"Name":"`+MetricQuotaRemainingPercent+`","Unit":"Percent"}`...)
	}
	b = append(b, `]}]},"`+Dimension+`":"`...)
	// DimensionValue is printable ASCII: only " and \ need escaping.
	dim := DimensionValue(functionName)
	for i := 0; i < len(dim); i++ {
		if c := dim[i]; c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, dim[i])
	}
	b = append(b, `","`+MetricAlerts+`":`...)
	b = strconv.AppendInt(b, int64(m.Alerts), 10)
	b = append(b, `,"`+MetricFailedOperations+`":`...)
	b = strconv.AppendInt(b, int64(m.FailedOperations), 10)
	b = append(b, `,"`+MetricAuthorizers+`":`...)
	b = strconv.AppendInt(b, int64(m.Authorizers), 10)
	b = append(b, `,"`+MetricFailedAuthorizers+`":`...)
	b = strconv.AppendInt(b, int64(m.FailedAuthorizers), 10)
	b = append(b, `,"`+MetricDroppedNotifications+`":`...)
	b = strconv.AppendInt(b, int64(m.DroppedNotifications), 10)
	b = append(b, `,"`+MetricSilencedChanges+`":`...)
	b = strconv.AppendInt(b, int64(m.SilencedChanges), 10)
	if v := m.VerifyTicketAgeSeconds; v != nil {
		b = append(b, `,"`+MetricVerifyTicketAgeSeconds+`":`...)
		b = AppendFloat(b, *v)
	}
	if v := m.QuotaRemainingPercent; v != nil {
		b = append(b, `,"`+MetricQuotaRemainingPercent+`":`...)
		b = AppendFloat(b, *v)
	}
	return b
}

// AppendFloat appends f as encoding/json writes a float64 (which is what
// log/slog's JSON handler writes), or null when f is not finite.
func AppendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 as encoding/json writes it: 1e-7.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
