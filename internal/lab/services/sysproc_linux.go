package services

import "syscall"

// sysProcAttr puts the child in its own process group and kills it if the
// parent dies first, so a crashed test leaves no server behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
