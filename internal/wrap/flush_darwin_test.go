package wrap

import "golang.org/x/sys/unix"

// flushInput discards the terminal's unread input (tcflush TCIFLUSH: on
// BSD, TIOCFLUSH with FREAD, which is 1).
func flushInput(fd int) { unix.IoctlSetPointerInt(fd, unix.TIOCFLUSH, 1) }
