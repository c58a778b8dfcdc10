#!/usr/bin/env bash
# make test's first step: every tool the suite needs, checked in a second,
# before anything is built (the server builds take minutes on a fresh
# machine; a missing browser should not be found after them).
set -u
missing=() hint=()
need() { # tool package
  command -v "$1" >/dev/null 2>&1 && return
  missing+=("$1"); hint+=("$2")
}
command -v go >/dev/null 2>&1 || { echo "make test needs go (Go 1.26 or newer) on PATH" >&2; exit 1; }
need git git
need tmux tmux
need systemd-analyze systemd   # deploy/systemd units are verified
# headless Chromium for the HTML view tests (internal/e2e/html_test.go)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { missing+=(chromium); hint+=(chromium); }
if [ ${#missing[@]} -gt 0 ]; then
  echo "make test needs: ${missing[*]}" >&2
  echo "  install: apt-get install -y ${hint[*]}   (.ci/run does this as root)" >&2
  exit 1
fi
