package export

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/gastown/gtrun/internal/journal"
)

// split separates the selected items of entries into gtrun's own (records
// or spans: index below own(e)) and received OTLP requests (raw(e)).
func split(entries []*journal.Entry, idx [][]int, own func(*journal.Entry) int, raw func(*journal.Entry) [][]byte) ([]*journal.Entry, [][]int, []byte) {
	var ownE []*journal.Entry
	var ownI [][]int
	var body []byte
	for i, e := range entries {
		var mine []int
		for _, j := range idx[i] {
			if n := own(e); j >= n {
				// Serialized protobuf messages concatenate into one whose
				// repeated fields (resource_logs, resource_spans) are the
				// union: one request carries them all.
				body = append(body, raw(e)[j-n]...)
			} else {
				mine = append(mine, j)
			}
		}
		if len(mine) > 0 {
			ownE, ownI = append(ownE, e), append(ownI, mine)
		}
	}
	return ownE, ownI, body
}

// postOTLP sends a received OTLP request body (protobuf) as it is.
func (c *Client) postOTLP(ctx context.Context, url string, headers map[string]string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &Error{Status: 400, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &Error{Err: err}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return &Error{Status: resp.StatusCode, Err: fmt.Errorf("%s", bytes.TrimSpace(msg))}
	}
	return nil
}
