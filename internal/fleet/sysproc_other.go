//go:build !linux

package fleet

import "syscall"

// sysProcAttr puts each child in its own process group so it can be stopped with
// everything it forked.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
