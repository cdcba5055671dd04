//go:build unix

package source

import "syscall"

// reuseAddr lets a source port be bound again while an earlier connection from it is in
// TIME_WAIT; a second boot step or a retry reuses the same privileged port.
func reuseAddr(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	}); err != nil {
		return err
	}
	return serr
}
