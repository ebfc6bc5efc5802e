//go:build unix

package main

import (
	"os/exec"
	"syscall"
	"time"
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
	if !kill {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	// Wait, briefly, for the group to be gone, so that the port is free
	// when the runner returns.
	for i := 0; i < 100 && syscall.Kill(-cmd.Process.Pid, 0) == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	return err
}
