//go:build !unix

package sqslocal

import "os/exec"

func setProcessGroup(*exec.Cmd) {}

// signalGroup has no process groups to use here: it kills the child itself.
func signalGroup(cmd *exec.Cmd, _ bool) error {
	return cmd.Process.Kill()
}
