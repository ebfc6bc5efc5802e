package warnings_test

import "time"

// testStart is the tests' fixed "now": the hour this test binary started,
// so that what the tests write with a lifetime (a lease, a guard, a run
// record) is measured against a date near the store's real clock, never a
// date that a later day has left behind.
var testStart = time.Now().UTC().Truncate(time.Hour)

// testNow returns testStart.
func testNow() time.Time { return testStart }
