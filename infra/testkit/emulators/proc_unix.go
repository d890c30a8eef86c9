//go:build unix

package emulators

import (
	"errors"
	"syscall"
)

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// signalGroup sends sig to the process group led by pid (the emulator runs
// with Setpgid, so its group id is its pid).
func signalGroup(pid int, sig syscall.Signal) {
	_ = syscall.Kill(-pid, sig)
}

// groupExists reports whether kill(2) still finds a process in the group.
// Zombies count, so on Linux groupGone looks at /proc instead.
func groupExists(pid int) bool {
	return !errors.Is(syscall.Kill(-pid, 0), syscall.ESRCH)
}
