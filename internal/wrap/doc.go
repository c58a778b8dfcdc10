// Package wrap starts the wrapped child and gets out of its way: the
// child's bytes reach the user unchanged, its exit status becomes gtrun's,
// and every signal gtrun receives is passed on.
//
// Design choices:
//   - Without Capture the child inherits gtrun's file descriptors: nothing
//     is copied, so output is byte-exact by construction. With Capture,
//     output goes through pipes and is written through at once (no line
//     buffering on the user's path); when stdout and stderr are the same
//     file, one pipe serves both so their interleaving stays exact.
//   - When stdout is a terminal the child gets a PTY (creack/pty) in its own
//     session; the user's terminal is put in raw mode so keystrokes, Ctrl-C
//     and the terminal's answers to queries (bd asks for the background
//     colour and stalls ~4 s without an answer) flow to the child through
//     the PTY. Raw mode is undone on every return path.
//   - Signal delivery: the child runs in its own process group. If gtrun is
//     in the foreground of a controlling terminal (non-PTY mode), the
//     child's group is made the foreground group, so Ctrl-C reaches the
//     child once from the kernel and never twice through gtrun. Signals
//     sent to gtrun itself are forwarded.
//   - No orphans: the child has Pdeathsig=SIGKILL. Linux ties it to the
//     thread that forked, so Start runs on a locked OS thread that stays
//     alive until the child is reaped.
package wrap
