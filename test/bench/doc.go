// Package bench holds wxcloudenv's benchmarks. Each one runs the real
// thing (the core, or the built bootstrap) beside the baseline of
// test/baseline against the same wechattest server in the same run, as
// sub-benchmarks named "baseline" and "wxcloudenv"; tools/benchreport
// turns their output into ratios. See BENCHMARKS.md.
package bench
