package wrap

import "golang.org/x/sys/unix"

// flushInput discards the terminal's unread input (tcflush TCIFLUSH).
func flushInput(fd int) { unix.IoctlSetInt(fd, unix.TCFLSH, unix.TCIFLUSH) }
