package export

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// spoolTransport sits under the OTLP exporters: it sends each request once
// and, when the backend is down, slow (the context deadline) or answering
// with a retryable error, stores the exact request body in the spool and
// reports success to the exporter, so the SDK neither retries nor blocks.
type spoolTransport struct {
	base    http.RoundTripper
	spool   *Spool
	kind    string
	onSpool func(kind string, err error)
}

func (t *spoolTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	resp, err := t.base.RoundTrip(out)
	if err == nil {
		if resp.StatusCode/100 == 2 || isPermanent(resp.StatusCode) {
			return resp, nil
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		err = fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if t.spool == nil {
		return nil, err
	}
	if serr := t.spool.Put(t.kind, req.URL.String(), req.Header, body); serr != nil {
		return nil, fmt.Errorf("%v; and could not spool: %v", err, serr)
	}
	t.onSpool(t.kind, err)
	return &http.Response{
		Status: "200 OK (spooled)", StatusCode: 200, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/x-protobuf"}},
		Body:    io.NopCloser(bytes.NewReader(nil)),
		Request: req,
	}, nil
}
