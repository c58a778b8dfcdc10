package export

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	colllogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	collmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	colltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/gastown/gtrun/internal/journal"
	"github.com/gastown/gtrun/internal/runenv"
	"github.com/gastown/gtrun/internal/shipper"
	"github.com/gastown/gtrun/internal/state"
)

// maxBody bounds a decoded request: its journal entry (base64 inside JSON)
// must fit a journal frame.
const maxBody = journal.MaxPayload / 2

// Receive is the agent's OTLP/HTTP receiver (docs/architecture.md, "The
// receiver"): POST /<token>/v1/{logs,metrics,traces}, protobuf or JSON,
// gzip or not. What it accepts is in the journal before it answers 200
// (with an empty Export…ServiceResponse in the request's content type);
// the agent ships it with the journal's guarantees to the destination the
// token names. Logs and traces keep the sender's resource and attributes,
// plus what is missing of run.id / gt.run_id and the work context; metric
// points go through the Merger into one exact series per identity.
type Receive struct {
	Journal *journal.Journal
	Dir     string // the agent's directory: receiver secret, dests/, merge state
	Merger  *shipper.Merger
	Policy  Policy // nil: BDShimPolicy
	Version string
	Now     func() time.Time
	Logf    func(format string, args ...any)

	mu    sync.Mutex
	key   []byte
	dests map[string]journal.Dest
}

// DestDir is where calls leave the destinations their tokens name.
func DestDir(agentDir string) string { return filepath.Join(agentDir, "dests") }

// httpError is a refusal with its OTLP/HTTP status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func refuse(status int, format string, args ...any) error {
	return &httpError{status, fmt.Sprintf(format, args...)}
}

func (h *Receive) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	resp, err := h.receive(r, ct)
	if err != nil {
		status := http.StatusServiceUnavailable // retryable: the journal failed
		var he *httpError
		if errors.As(err, &he) {
			status = he.status
		}
		if h.Logf != nil {
			h.Logf("receiver: %s %s: %v", r.Method, redactToken(r.URL.Path), err)
		}
		writeStatus(w, ct, status, err.Error())
		return
	}
	var body []byte
	if ct == "application/json" {
		body = []byte("{}")
	} else {
		body, _ = proto.Marshal(resp)
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// writeStatus answers a refusal as OTLP/HTTP says: a google.rpc.Status
// (code 3 INVALID_ARGUMENT or 14 UNAVAILABLE, the message) in the request's
// content type, written with protowire to spare a dependency.
func writeStatus(w http.ResponseWriter, ct string, status int, msg string) {
	code := int32(3)
	if status == http.StatusServiceUnavailable {
		code = 14
	}
	var body []byte
	if ct == "application/json" {
		body, _ = json.Marshal(map[string]any{"code": code, "message": msg})
	} else {
		ct = "application/x-protobuf"
		body = protowire.AppendTag(body, 1, protowire.VarintType)
		body = protowire.AppendVarint(body, uint64(code))
		body = protowire.AppendTag(body, 2, protowire.BytesType)
		body = protowire.AppendString(body, msg)
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(status)
	w.Write(body)
}

// redactToken keeps a token out of the agent's log.
func redactToken(path string) string {
	if i := strings.Index(path, "/v1/"); i > 0 {
		return "/…" + path[i:]
	}
	return path
}

// receive decodes, enriches, filters and journals one request; it returns
// the (empty) response message to answer with.
func (h *Receive) receive(r *http.Request, ct string) (proto.Message, error) {
	if r.Method != http.MethodPost {
		return nil, refuse(http.StatusMethodNotAllowed, "POST only")
	}
	tok, sig, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/v1/")
	if !ok || strings.Contains(tok, "/") {
		return nil, refuse(http.StatusNotFound, "want /<token>/v1/{logs,metrics,traces}")
	}
	if ct != "application/x-protobuf" && ct != "application/json" {
		return nil, refuse(http.StatusUnsupportedMediaType, "content type %q: want application/x-protobuf or application/json", ct)
	}
	cc, dest, err := h.context(tok)
	if err != nil {
		return nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	e := &journal.Entry{Dest: dest, RunID: cc.RunID, Version: h.Version, Written: h.now().UnixNano(), Work: cc.Work}
	switch sig {
	case "logs":
		return &colllogs.ExportLogsServiceResponse{}, h.logs(e, cc, body, ct)
	case "traces":
		return &colltrace.ExportTraceServiceResponse{}, h.traces(e, cc, body, ct)
	case "metrics":
		return &collmetrics.ExportMetricsServiceResponse{}, h.metrics(e, cc, body, ct)
	}
	return nil, refuse(http.StatusNotFound, "unknown signal %q", sig)
}

func (h *Receive) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func readBody(r *http.Request) ([]byte, error) {
	var rd io.Reader = r.Body
	switch strings.ToLower(r.Header.Get("Content-Encoding")) {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, refuse(http.StatusBadRequest, "gzip: %v", err)
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, refuse(http.StatusUnsupportedMediaType, "content encoding %q", r.Header.Get("Content-Encoding"))
	}
	b, err := io.ReadAll(io.LimitReader(rd, maxBody+1))
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "reading the body: %v", err)
	}
	if len(b) > maxBody {
		return nil, refuse(http.StatusRequestEntityTooLarge, "body over %d bytes", maxBody)
	}
	return b, nil
}

// context resolves a token: the call's context and its destination.
func (h *Receive) context(tok string) (runenv.CallContext, journal.Dest, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.key == nil {
		info, err := state.ReadReceiver(h.Dir)
		if err != nil {
			return runenv.CallContext{}, journal.Dest{}, err
		}
		h.key, h.dests = info.Key, map[string]journal.Dest{}
	}
	cc, err := runenv.ParseReceiverToken(tok, h.key)
	if err != nil {
		return cc, journal.Dest{}, refuse(http.StatusForbidden, "%v", err)
	}
	d, ok := h.dests[cc.Dest]
	if !ok {
		b, err := os.ReadFile(filepath.Join(DestDir(h.Dir), state.FileName(cc.Dest)))
		if err == nil {
			d, err = journal.ParseDest(b)
		}
		if err != nil {
			return cc, d, refuse(http.StatusForbidden, "destination %s: %v", cc.Dest, err)
		}
		h.dests[cc.Dest] = d
	}
	return cc, d, nil
}

// append journals e (when it holds anything): after it returns nil the
// request is the agent's responsibility, and may be answered 200.
func (h *Receive) append(e *journal.Entry) error {
	if !e.Received() {
		return nil
	}
	payload, err := e.Encode()
	if err != nil {
		return err
	}
	return h.Journal.Append(payload)
}
