// Package wrap starts the wrapped child and gets out of its way: the
// user's terminal behaves as if gtrun were not there. The child's bytes
// reach the user unchanged, its exit status (or its signal death) becomes
// gtrun's, every signal gtrun receives is passed on once, and job control
// works as with the bare command.
//
// # Plumbing (plumbing.go, pump.go)
//
//   - stdin is always the user's own; gtrun does not read it (but see the
//     relay below). Typeahead stays in the terminal for the next program,
//     no byte the user did not type is echoed, the child reads terminal
//     answers (bd's ESC]11;? reply) itself, and keys typed while the child
//     starts reach it as they would bare.
//   - Without Capture (no rule needs the output) the child inherits
//     stdout and stderr: no PTY, no raw mode, no copy. Fidelity by
//     construction.
//   - With Capture, output goes through pipes; when stdout is a terminal
//     (PTYAuto) or with PTYOn, through an output-only PTY instead, so the
//     child still sees a terminal (colours, window size). That PTY is not
//     the child's controlling terminal (no new session): job control stays
//     on the user's terminal, and the PTY's end hangs nobody up (a child
//     that closed its stdio used to be killed by SIGHUP). Output
//     processing is off on it, so the user's terminal does its own and
//     every byte arrives as the child wrote it.
//   - The output is written through as it arrives, with blocking writes:
//     a slow reader slows the copy, it never truncates it. Once the child
//     is reaped, the pumps drain what is there (pipes: until empty; PTY:
//     until EIO, or 100 ms of quiet when a grandchild still holds it) and
//     stop; a background process left holding stdout does not keep the
//     call alive, as the shell would not wait for it either. What such a
//     grandchild writes after that is lost (EPIPE/EIO) instead of reaching
//     the terminal: the price of interposing.
//
// This replaces "a PTY when stdout is a terminal" with stdin relayed in
// raw mode, which lost typeahead, echoed stray ^@, mangled keys typed
// while raw mode was being set, and hung up children that let go of the
// terminal. The cost, measured with the torture tests: a child's
// foreground check on its stdout (termenv, git's progress) fails on the
// output PTY (ENOTTY: not its controlling terminal), so such a child
// skips its terminal query (no ~4 s stall either) or its progress meter.
//
// # Relay (relay.go)
//
// A program that reads keys from the terminal of its stdout/stderr (less
// on Debian opens ttyname(2)) would wait forever on the output PTY. While
// that PTY is non-canonical, gtrun gives the user's terminal the child's
// input modes and copies keystrokes that are already waiting into the PTY,
// only while gtrun holds the terminal's foreground; it never leaves a
// reader behind and gives the terminal its modes back when the PTY is
// canonical again or the child is gone.
//
// # Job control (jobctl.go)
//
// The child runs in its own process group, so a signal sent to gtrun, by
// pid or to its group, reaches the child once, through gtrun. When gtrun
// leads its own group in the terminal's foreground (a job-control shell
// started it) and the child writes to the terminal, the child's group is
// made the foreground before exec: Ctrl-C and Ctrl-Z reach it once,
// from the kernel. Otherwise (a shell without job control, which must get
// Ctrl-C itself; a pipeline, whose pager must keep the terminal; PTY mode,
// where gtrun must see SIGWINCH) gtrun keeps the terminal and forwards,
// and hands it over when the child touches it (SIGTTIN/SIGTTOU stop).
// gtrun waits with WUNTRACED: when the child stops for good (Ctrl-Z), gtrun
// stops itself with the same signal, so the shell sees the job stop; when
// continued (fg, bg) it gives the terminal back to the child if it had it
// and continues it. It takes the terminal back when the child is gone.
//
// # Signals (signals.go)
//
// Forwarded: INT, TERM, HUP, QUIT, USR1, USR2, WINCH (after resizing the
// PTY), CONT, ALRM, TSTP. A signal ignored when gtrun started stays
// ignored for the child: gtrun does not Notify it (Notify would make the
// runtime handle it, and a handled signal is reset to SIG_DFL at exec),
// so it is neither forwarded nor un-ignored. What Go lets a program know:
// the runtime keeps an inherited SIG_IGN for HUP and INT (signal.Ignored)
// and leaves TSTP, TTIN, TTOU and CONT alone until Notify, so on Linux the
// kernel still has their start disposition. For QUIT, TERM, USR1 and the
// others the runtime installs its handler before any gtrun code runs; an
// inherited SIG_IGN of those is lost to every Go program (it would take a
// non-Go launcher), and the child gets SIG_DFL.
//
// # Exit status, ExitLike
//
// The child's status; 128+N in Result.ExitCode for a death by signal N.
// But the 128+N rule stands only where the caller cannot see a signal
// death: shells require a wrapper whose child died of a signal to die of
// it too (bash stops `for i in 1 2 3; do gtrun sleep 2; done` on Ctrl-C
// only if the command died of SIGINT, not if it exited 130). So gtrun
// calls ExitLike(Result) last: it resets the signal to SIG_DFL, unblocks
// it and kills gtrun with it. Linux: every terminating signal, KILL
// included; for core-dumping ones (QUIT, SEGV, ABRT, ...) after
// PR_SET_DUMPABLE=0, so no core file is written and no core_pattern
// handler is started: the caller sees the death, without "(core dumped)".
// A signal ignored at start is not re-raised (ExitLike returns 128+N).
//
// Start failures are the shell's: 127 not found, 126 not executable (a
// mode-644 file on PATH included, as bash), a script without "#!" run
// with /bin/sh as execvp(3) does, 125 anything else.
//
// # No orphans
//
// Linux: Pdeathsig=SIGKILL. It is tied to the thread that forked, so the
// child is started on a locked OS thread that stays alive (in wait4)
// until the child is reaped.
//
// # macOS
//
// The same design, PTY and process-group handling included. What
// differs, because macOS offers no Pdeathsig and x/sys/unix no sigaction
// there:
//   - no orphans: a watcher (/bin/sh reading a pipe whose write end only
//     gtrun holds, close-on-exec) kills the child's process group when the
//     pipe reaches end of file without gtrun's "done" line, i.e. when gtrun
//     died; one extra small process per run;
//   - ExitLike re-raises only HUP, INT and TERM (the runtime dies of them
//     after signal.Reset) and KILL; others return 128+N (a core-dumping
//     one would also wake the crash reporter);
//   - start dispositions: only HUP and INT are known (signal.Ignored);
//   - gtrun stops itself with SIGSTOP instead of a handled TSTP (the shell
//     reports "Stopped (signal)");
//   - readiness is waited for with select(2): poll(2) does not support
//     devices on macOS.
package wrap
