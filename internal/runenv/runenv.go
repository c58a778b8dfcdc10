// Package runenv builds the environment gtrun gives a child (SPEC §1
// "Environment given to the child"): the run id GT_RUN, the caller's
// OTEL_RESOURCE_ATTRIBUTES with gt.* keys added, and the BD_OTEL_* mirrors.
// It is pure: the caller passes the environment in.
package runenv

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/google/uuid"
)

// Env is an environment as a lookup plus the original ordered list.
type Env struct {
	list []string
	m    map[string]string
}

// New indexes an os.Environ()-style list. Later duplicates win, as in exec.
func New(list []string) *Env {
	e := &Env{list: list, m: make(map[string]string, len(list))}
	for _, kv := range list {
		if k, v, ok := strings.Cut(kv, "="); ok {
			e.m[k] = v
		}
	}
	return e
}

// Get returns the value of k ("" when unset).
func (e *Env) Get(k string) string { return e.m[k] }

// Lookup returns the value of k and whether it is set.
func (e *Env) Lookup(k string) (string, bool) { v, ok := e.m[k]; return v, ok }

// WorkKeys maps work-context variables to their attribute names (the seed's
// "critical" missing piece: every event traced to its rig and bead).
var WorkKeys = [][2]string{
	{"GT_WORK_RIG", "gt.work_rig"},
	{"GT_WORK_BEAD", "gt.work_bead"},
	{"GT_WORK_BUILD", "gt.work_build"},
	{"GT_WORK_MOL", "gt.work_mol"},
}

// identityKeys maps identity variables to resource attribute names.
var identityKeys = [][2]string{
	{"GT_ROLE", "gt.role"},
	{"GT_RIG", "gt.rig"},
	{"BD_ACTOR", "gt.actor"},
	{"GT_SESSION", "gt.session"},
}

// RunID returns GT_RUN when set (a nested call joins its parent's run),
// else the run a gtrun above kept from a reporting gt (HideRunID), else a
// new UUID v4, and whether it was new.
func RunID(e *Env) (string, bool) {
	if v := strings.TrimSpace(e.Get("GT_RUN")); v != "" {
		return v, false
	}
	if v := strings.TrimSpace(e.Get(UserPrefix + "GT_RUN")); v != "" {
		return v, false
	}
	u, err := uuid.NewRandomFromReader(fastRandom{})
	if err != nil {
		return uuid.NewString(), true
	}
	return u.String(), true
}

// fastRandom reads math/rand/v2's global generator: ChaCha8 seeded by the
// runtime from the OS at start-up. Run and span ids need to be unique, not
// secret, and crypto/rand's first use costs a wrapped call ~50 µs.
type fastRandom struct{}

func (fastRandom) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 8 {
		v := rand.Uint64()
		for j := 0; j < 8 && i+j < len(p); j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	return len(p), nil
}

// Work returns the work context attributes that are set, in a fixed order.
func Work(e *Env) [][2]string {
	var out [][2]string
	for _, k := range WorkKeys {
		if v := e.Get(k[0]); v != "" {
			out = append(out, [2]string{k[1], v})
		}
	}
	return out
}

// GTAttrs returns the gt.* resource attributes gtrun adds for runID, only
// for values that are set.
func GTAttrs(e *Env, runID string) [][2]string {
	var out [][2]string
	for _, k := range identityKeys {
		if v := e.Get(k[0]); v != "" {
			out = append(out, [2]string{k[1], v})
		}
	}
	agent := e.Get("GT_POLECAT")
	if agent == "" {
		agent = e.Get("GT_CREW")
	}
	if agent != "" {
		out = append(out, [2]string{"gt.agent", agent})
	}
	out = append(out, [2]string{"gt.run_id", runID})
	return append(out, Work(e)...)
}

// Child returns the environment for the child: base with GT_RUN,
// OTEL_RESOURCE_ATTRIBUTES (caller's keys kept unless gtrun sets the same
// key), BD_OTEL_METRICS_URL and BD_OTEL_LOGS_URL (mirrors of the GT_ URLs)
// set. extra entries (KEY=VALUE) are applied last. The returned warning is
// non-empty when the caller's OTEL_RESOURCE_ATTRIBUTES had malformed parts,
// which are dropped.
func Child(e *Env, runID string, extra ...string) ([]string, string) {
	caller, warn := ParseResourceAttrs(e.Get("OTEL_RESOURCE_ATTRIBUTES"))
	merged := mergeAttrs(caller, GTAttrs(e, runID))
	set := map[string]string{
		"GT_RUN":                   runID,
		"OTEL_RESOURCE_ATTRIBUTES": EncodeResourceAttrs(merged),
	}
	if v := e.Get("GT_OTEL_METRICS_URL"); v != "" {
		set["BD_OTEL_METRICS_URL"] = v
	}
	if v := e.Get("GT_OTEL_LOGS_URL"); v != "" {
		set["BD_OTEL_LOGS_URL"] = v
	}
	for _, kv := range extra {
		if k, v, ok := strings.Cut(kv, "="); ok {
			set[k] = v
		}
	}
	out := make([]string, 0, len(e.list)+len(set))
	for _, kv := range e.list {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			out = append(out, kv)
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+set[k])
	}
	return out, warn
}

// mergeAttrs keeps the caller's order and values, replacing keys gtrun sets.
func mergeAttrs(caller, ours [][2]string) [][2]string {
	idx := map[string]int{}
	out := make([][2]string, 0, len(caller)+len(ours))
	for _, kv := range caller {
		if i, ok := idx[kv[0]]; ok {
			out[i] = kv
			continue
		}
		idx[kv[0]] = len(out)
		out = append(out, kv)
	}
	for _, kv := range ours {
		if i, ok := idx[kv[0]]; ok {
			out[i] = kv
			continue
		}
		idx[kv[0]] = len(out)
		out = append(out, kv)
	}
	return out
}

// ParseResourceAttrs parses OTEL_RESOURCE_ATTRIBUTES ("k=v,k2=v2", values
// percent-encoded per the OTel spec). Malformed entries are skipped and
// described in the returned warning instead of failing.
func ParseResourceAttrs(s string) ([][2]string, string) {
	var out [][2]string
	var bad []string
	if strings.TrimSpace(s) == "" {
		return nil, ""
	}
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			bad = append(bad, part)
			continue
		}
		dv, err := percentDecode(strings.TrimSpace(v))
		if err != nil {
			bad = append(bad, part)
			continue
		}
		out = append(out, [2]string{k, dv})
	}
	warn := ""
	if len(bad) > 0 {
		warn = fmt.Sprintf("ignoring malformed OTEL_RESOURCE_ATTRIBUTES entries: %q", bad)
	}
	return out, warn
}

// EncodeResourceAttrs renders attributes for OTEL_RESOURCE_ATTRIBUTES with
// every byte outside the W3C baggage-safe set percent-encoded, so ',', '=',
// '%' and spaces survive the round trip.
func EncodeResourceAttrs(attrs [][2]string) string {
	var b strings.Builder
	for i, kv := range attrs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(percentEncode(kv[1]))
	}
	return b.String()
}

func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > 0x20 && c < 0x7f && c != ',' && c != '=' && c != '%' && c != '"' && c != ';' && c != '\\' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func percentDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", fmt.Errorf("bad percent escape in %q", s)
		}
		b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
		i += 2
	}
	return b.String(), nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
