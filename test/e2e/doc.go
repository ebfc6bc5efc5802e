// Package e2e holds end-to-end tests: they build the real function
// binaries and drive them the way the platforms do, through a Lambda
// Runtime API emulator and SCF's net/rpc protocol, against wechattest:
// triggers and failures, WeChat's authorization-event pushes as Function
// URL events, alerts reaching a fake robot, fleet runs, and processes
// sharing a file, Redis or DynamoDB store.
package e2e
