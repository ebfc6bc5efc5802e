// Package bench holds wxcloudenv's benchmarks. Each one runs the real
// thing (the core, or the built bootstrap) beside the floor of
// internal/floor against the same wechattest server in the same run, as
// sub-benchmarks named "floor" and "wxcloudenv"; internal/benchreport
// turns their output into ratios. See BENCHMARKS.md.
package bench
