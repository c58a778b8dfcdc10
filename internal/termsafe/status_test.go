package termsafe_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gastown/gtrun/internal/shipper"
)

// shipper status prints a backend's error body: a hostile backend (or a
// proxy in between) must not drive the operator's terminal through it.
func TestShipperStatusEscapesBackendError(t *testing.T) {
	now := time.Now()
	st := shipper.Status{Endpoints: []shipper.EndpointRep{{Kind: "logs", URL: "http://127.0.0.1:9428",
		LastErr: "HTTP 500: \x1b]0;PWNED\x07\x1b[2J\x1b]52;c;cHduZWQ=\x07 bad\rok", LastErrAt: now}}}
	var b bytes.Buffer
	shipper.RenderStatus(&b, st, now)
	if bytes.ContainsAny(b.Bytes(), "\x1b\x07\r") {
		t.Fatalf("raw control bytes in shipper status:\n%q", b.String())
	}
	if !strings.Contains(b.String(), `last error: HTTP 500: \x1b]0;PWNED\x07\x1b[2J`) {
		t.Fatalf("the error is not shown visibly:\n%s", b.String())
	}
}
