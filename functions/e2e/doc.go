// Package e2e holds end-to-end tests: they build the real function
// binaries and drive them the way the platforms do, through a Lambda
// Runtime API emulator and SCF's net/rpc protocol, against wechattest.
package e2e
