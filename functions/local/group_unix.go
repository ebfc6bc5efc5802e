//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// ownGroup starts cmd in a new process group, whose id is its pid.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// stopGroup signals cmd's whole process group: SIGINT to ask, SIGKILL
// when kill is set.
func stopGroup(cmd *exec.Cmd, kill bool) error {
	if cmd.Process == nil {
		return nil
	}
	sig := syscall.SIGINT
	if kill {
		sig = syscall.SIGKILL
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}
