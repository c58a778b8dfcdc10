// Package parse holds gtrun's pure parsers: bd/gt argv and output rules
// (wrapped call → catalog events), redaction, and agent transcript lines
// (Claude Code, Codex) → agent.event and agent.usage records. No OTel and
// no I/O: callers hand in bytes, tests are tables and golden files.
package parse
