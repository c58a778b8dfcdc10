package backendtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"testing"
	"time"
)

// Jaeger is a running Jaeger all-in-one (in-memory storage), every
// listener on 127.0.0.1.
type Jaeger struct {
	OTLPURL  string // OTLP/HTTP traces endpoint
	QueryURL string // query API and UI
}

// StartJaeger starts Jaeger; it is killed when the test ends. Its seven
// ports are picked free and then bound by Jaeger, so another process may
// take one in between: a Jaeger that exits while starting is started
// again on fresh ports, up to three times.
func StartJaeger(t testing.TB) *Jaeger {
	t.Helper()
	bin := Binary(t, "jaeger")
	var last string
	for attempt := 0; attempt < 3; attempt++ {
		j, log, ok := startJaeger(t, bin)
		if ok {
			return j
		}
		last = log
	}
	t.Fatalf("backendtest: jaeger exited while starting, three times: %s", last)
	return nil
}

// startJaeger makes one attempt; false with Jaeger's log when it exited.
func startJaeger(t testing.TB, bin string) (*Jaeger, string, bool) {
	hp := func() string { return fmt.Sprintf("127.0.0.1:%d", FreePort(t)) }
	otlp, query := hp(), hp()
	args := []string{
		"--collector.otlp.http.host-port=" + otlp, "--collector.otlp.grpc.host-port=" + hp(),
		"--collector.http-server.host-port=" + hp(), "--collector.grpc-server.host-port=" + hp(),
		"--query.http-server.host-port=" + query, "--query.grpc-server.host-port=" + hp(),
		"--admin.http.host-port=" + hp(), "--log-level=warn",
	}
	cmd := exec.Command(bin, args...)
	var log lockedBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("backendtest: start jaeger: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	j := &Jaeger{OTLPURL: "http://" + otlp + "/v1/traces", QueryURL: "http://" + query}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-done:
			return nil, log.String(), false
		default:
		}
		if resp, err := http.Get(j.QueryURL + "/api/services"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				t.Cleanup(func() {
					cmd.Process.Kill()
					<-done
					if t.Failed() {
						t.Logf("jaeger log:\n%s", log.String())
					}
				})
				return j, "", true
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			t.Fatalf("backendtest: jaeger did not answer within 60s: %s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// JSpan is a span as Jaeger's query API returns it.
type JSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

// Parent returns the span's CHILD_OF parent span id ("" for a root).
func (s JSpan) Parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// Tag returns a tag's value as text.
func (s JSpan) Tag(k string) string {
	for _, tg := range s.Tags {
		if tg.Key == k {
			return fmt.Sprint(tg.Value)
		}
	}
	return ""
}

// WaitSpans polls /api/traces/ID until the trace has want spans.
func (j *Jaeger) WaitSpans(t testing.TB, traceID string, want int, within time.Duration) []JSpan {
	t.Helper()
	deadline := time.Now().Add(within)
	var last []JSpan
	for {
		last = j.spans(traceID)
		if len(last) == want {
			return last
		}
		if len(last) > want || time.Now().After(deadline) {
			t.Fatalf("backendtest: trace %s has %d spans, want %d: %+v", traceID, len(last), want, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (j *Jaeger) spans(traceID string) []JSpan {
	resp, err := http.Get(j.QueryURL + "/api/traces/" + traceID)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Data []struct {
			Spans []JSpan `json:"spans"`
		} `json:"data"`
	}
	if json.Unmarshal(b, &r) != nil || len(r.Data) == 0 {
		return nil
	}
	return r.Data[0].Spans
}
