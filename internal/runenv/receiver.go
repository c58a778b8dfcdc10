package runenv

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
)

// Receiver is where a wrapped program's own OTLP telemetry goes instead of
// the user's endpoints: the delivery agent's loopback receiver, at a base
// URL whose path names the call's context (ReceiverToken). Logs, Metrics
// and Traces say which signals the user configured: only those are pointed
// at the receiver (a signal the user left off stays off).
type Receiver struct {
	Base                  string // http://127.0.0.1:PORT/<token>
	Logs, Metrics, Traces bool
}

// PointAtReceiver returns the child's environment list with every OTLP
// endpoint variable gtrun knows pointed at r, for the configured signals:
// GT_OTEL_*_URL (gt), BD_OTEL_*_URL (bd), and the standard
// OTEL_EXPORTER_OTLP_*_ENDPOINT (Claude Code, any OTel SDK) when the list
// sets them or their base OTEL_EXPORTER_OTLP_ENDPOINT. Everything else is
// kept. A zero r changes nothing.
func PointAtReceiver(list []string, r Receiver) []string {
	if r.Base == "" {
		return list
	}
	e := New(list)
	set := map[string]string{}
	_, base := e.Lookup("OTEL_EXPORTER_OTLP_ENDPOINT")
	point := func(on bool, path string, vars ...string) {
		if !on {
			return
		}
		for i, k := range vars {
			// The first two (GT_, BD_) gtrun always sets; the standard one
			// only where the program would otherwise read the user's.
			if _, ok := e.Lookup(k); i < 2 || ok || base {
				set[k] = r.Base + path
			}
			// The receiver speaks OTLP/HTTP only: a child told to use gRPC
			// for the user's endpoint uses HTTP for the receiver.
			if i == 2 && set[k] != "" {
				pk := strings.TrimSuffix(k, "_ENDPOINT") + "_PROTOCOL"
				if p, ok := e.Lookup(pk); ok && p == "grpc" || !ok && e.Get("OTEL_EXPORTER_OTLP_PROTOCOL") == "grpc" {
					set[pk] = "http/protobuf"
				}
			}
		}
	}
	point(r.Logs, "/v1/logs", "GT_OTEL_LOGS_URL", "BD_OTEL_LOGS_URL", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
	point(r.Metrics, "/v1/metrics", "GT_OTEL_METRICS_URL", "BD_OTEL_METRICS_URL", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
	point(r.Traces, "/v1/traces", "GT_OTEL_TRACES_URL", "", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	delete(set, "")
	if base && r.Logs && r.Metrics && r.Traces {
		// A base URL the SDK appends /v1/<signal> to; with a signal left
		// off, the per-signal variables above carry the receiver instead.
		set["OTEL_EXPORTER_OTLP_ENDPOINT"] = r.Base
	}
	// The user's own values stay readable for a gtrun below the child (gt's
	// bd through the shim): its records go to the user's endpoints, not to
	// the receiver as if the child had sent them.
	for k := range set {
		if _, ok := e.Lookup(UserPrefix + k); !ok {
			set[UserPrefix+k] = e.Get(k)
		}
	}
	out := make([]string, 0, len(list)+len(set))
	for _, kv := range list {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			out = append(out, kv)
		}
	}
	for _, k := range sortedKeys(set) {
		out = append(out, k+"="+set[k])
	}
	return out
}

// UserPrefix marks the user's value of an endpoint variable the receiver
// replaced in a child's environment (UserEnv reads it back).
const UserPrefix = "GTRUN_USER_"

// UserEnv is the user's value of an endpoint variable: what it was before
// a gtrun above pointed the process at its receiver.
func UserEnv(e *Env, k string) string {
	if v, ok := e.Lookup(UserPrefix + k); ok {
		return v
	}
	return e.Get(k)
}

// HideRunID returns a reporting gt's environment without the GT_RUN gtrun
// assigned, the run kept in GTRUN_USER_GT_RUN for a gtrun below (RunID).
// gt stamps $GT_RUN over the run.id of every record it emits, the
// agent.instantiate of a new session included, whose run.id is the
// session's own (the one the session gets as GT_RUN); through the receiver,
// which adds the call's run.id to a record without one, gt's records then
// carry the run gt itself would give them.
func HideRunID(list []string, runID string) []string {
	out := make([]string, 0, len(list)+1)
	for _, kv := range list {
		if !strings.HasPrefix(kv, "GT_RUN=") && !strings.HasPrefix(kv, UserPrefix+"GT_RUN=") {
			out = append(out, kv)
		}
	}
	return append(out, UserPrefix+"GT_RUN="+runID)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// CallContext is what a receiver adds to what a program sends through it:
// where it goes (Dest, an id the agent resolves in its state directory),
// the call's run and work context, and flags for the receiver's policy.
type CallContext struct {
	Dest  string
	RunID string
	Work  [][2]string
	// BDShim: gtrun's shim records every bd process itself, so the
	// program's own bd.call records and gastown.bd.* series are dropped.
	BDShim bool
}

// ReceiverToken encodes c as a URL path segment, authenticated with key
// (the receiver's secret, readable only by its user): another local user
// can reach the loopback port but cannot make records travel as this
// user's, to this user's endpoints with their credentials.
func ReceiverToken(c CallContext, key []byte) string {
	v := url.Values{}
	v.Set("d", c.Dest)
	v.Set("r", c.RunID)
	for _, w := range c.Work {
		v.Set("w."+w[0], w[1])
	}
	if c.BDShim {
		v.Set("bdshim", "1")
	}
	payload := v.Encode()
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + mac(key, payload)
}

// ErrBadToken is a token that does not decode or whose MAC is wrong.
var ErrBadToken = errors.New("bad receiver token")

// ParseReceiverToken decodes a ReceiverToken made with key.
func ParseReceiverToken(tok string, key []byte) (CallContext, error) {
	p, m, ok := strings.Cut(tok, ".")
	if !ok {
		return CallContext{}, ErrBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || !hmac.Equal([]byte(mac(key, string(raw))), []byte(m)) {
		return CallContext{}, ErrBadToken
	}
	v, err := url.ParseQuery(string(raw))
	if err != nil {
		return CallContext{}, ErrBadToken
	}
	c := CallContext{Dest: v.Get("d"), RunID: v.Get("r"), BDShim: v.Get("bdshim") == "1"}
	for _, k := range WorkKeys { // a fixed order, as Work gives it
		if w := v.Get("w." + k[1]); w != "" {
			c.Work = append(c.Work, [2]string{k[1], w})
		}
	}
	return c, nil
}

func mac(key []byte, payload string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}
