//go:build unix

package sqslocal

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the child in a process group of its own, so Close can
// stop it (and anything it spawned) without touching the parent's group.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends SIGTERM (or SIGKILL when kill is set) to the child's
// process group, whose id is the child's pid.
func signalGroup(cmd *exec.Cmd, kill bool) error {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}
