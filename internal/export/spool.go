package export

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gastown/gtrun/internal/state"
)

// Kinds of spooled payloads, one directory each.
const (
	KindLogs    = "logs"
	KindMetrics = "metrics"
	KindTraces  = "traces"
)

var kinds = []string{KindLogs, KindMetrics, KindTraces}

// Spool keeps OTLP request bodies that could not be delivered, byte for
// byte, so a later delivery carries the original timestamps and values.
//
// Each entry is one file written to a temporary name and renamed into
// place: a kill -9 can leave a stray temporary file (ignored, cleaned up
// later) but never a half entry under a real name. Entries also carry a
// length and SHA-256 so corruption is detected and skipped, not fatal.
// One deliverer per kind at a time (flock), so concurrent flushers never
// send an entry twice.
type Spool struct {
	Dir      string // state dir/spool
	MaxBytes int64
	Warn     func(string)
}

const spoolMagic = "GTRUNSPOOL1\n"

type spoolHeader struct {
	URL             string `json:"url"`
	ContentType     string `json:"content_type"`
	ContentEncoding string `json:"content_encoding,omitempty"`
	Created         int64  `json:"created"`
	Size            int    `json:"size"`
	SHA256          string `json:"sha256"`
}

// OpenSpool returns the spool in the per-user state directory.
func OpenSpool(maxBytes int64, warn func(string)) (*Spool, error) {
	d, err := state.Sub("spool")
	if err != nil {
		return nil, err
	}
	for _, k := range kinds {
		if err := state.MkdirAll(filepath.Join(d, k)); err != nil {
			return nil, err
		}
	}
	if maxBytes <= 0 {
		maxBytes = DefaultSpoolMaxBytes
	}
	if warn == nil {
		warn = func(string) {}
	}
	return &Spool{Dir: d, MaxBytes: maxBytes, Warn: warn}, nil
}

// Put stores one request body of kind.
func (s *Spool) Put(kind, url string, h http.Header, body []byte) error {
	sum := sha256.Sum256(body)
	hdr, _ := json.Marshal(spoolHeader{
		URL: url, ContentType: h.Get("Content-Type"), ContentEncoding: h.Get("Content-Encoding"),
		Created: time.Now().UnixNano(), Size: len(body), SHA256: hex.EncodeToString(sum[:]),
	})
	var buf bytes.Buffer
	buf.WriteString(spoolMagic)
	buf.Write(hdr)
	buf.WriteByte('\n')
	buf.Write(body)
	var rnd [6]byte
	rand.Read(rnd[:])
	// The name sorts by time, so delivery and dropping go oldest first.
	name := fmt.Sprintf("%020d-%d-%s.otlp", time.Now().UnixNano(), os.Getpid(), hex.EncodeToString(rnd[:]))
	if err := state.WriteFileAtomic(filepath.Join(s.Dir, kind, name), buf.Bytes()); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	s.enforceLimit()
	return nil
}

type spoolEntry struct {
	path string
	size int64
}

func (s *Spool) entries(kind string) []spoolEntry {
	des, _ := os.ReadDir(filepath.Join(s.Dir, kind))
	var out []spoolEntry
	for _, de := range des {
		n := de.Name()
		if strings.HasPrefix(n, ".tmp-") {
			if fi, err := de.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
				os.Remove(filepath.Join(s.Dir, kind, n)) // left by a killed writer
			}
			continue
		}
		if !strings.HasSuffix(n, ".otlp") {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		out = append(out, spoolEntry{filepath.Join(s.Dir, kind, n), fi.Size()})
	}
	sort.Slice(out, func(i, j int) bool { return filepath.Base(out[i].path) < filepath.Base(out[j].path) })
	return out
}

// Pending returns the number of spooled entries per kind.
func (s *Spool) Pending() map[string]int {
	m := map[string]int{}
	for _, k := range kinds {
		if n := len(s.entries(k)); n > 0 {
			m[k] = n
		}
	}
	return m
}

// enforceLimit drops the oldest entries (all kinds together) beyond MaxBytes.
func (s *Spool) enforceLimit() {
	var all []spoolEntry
	var total int64
	for _, k := range kinds {
		for _, e := range s.entries(k) {
			all = append(all, e)
			total += e.size
		}
	}
	if total <= s.MaxBytes {
		return
	}
	sort.Slice(all, func(i, j int) bool { return filepath.Base(all[i].path) < filepath.Base(all[j].path) })
	dropped, freed := 0, int64(0)
	for _, e := range all {
		if total-freed <= s.MaxBytes {
			break
		}
		if os.Remove(e.path) == nil {
			dropped++
			freed += e.size
		}
	}
	if dropped > 0 {
		s.Warn(fmt.Sprintf("spool over %d bytes: dropped the %d oldest batches (%d bytes)", s.MaxBytes, dropped, freed))
	}
}

func readEntry(path string) (spoolHeader, []byte, error) {
	var h spoolHeader
	data, err := os.ReadFile(path)
	if err != nil {
		return h, nil, err
	}
	if !bytes.HasPrefix(data, []byte(spoolMagic)) {
		return h, nil, errors.New("not a spool entry")
	}
	data = data[len(spoolMagic):]
	line, body, ok := bytes.Cut(data, []byte("\n"))
	if !ok {
		return h, nil, errors.New("truncated header")
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return h, nil, fmt.Errorf("bad header: %v", err)
	}
	sum := sha256.Sum256(body)
	if len(body) != h.Size || hex.EncodeToString(sum[:]) != h.SHA256 {
		return h, nil, fmt.Errorf("corrupt body (%d of %d bytes)", len(body), h.Size)
	}
	return h, body, nil
}

// DeliverResult counts what a delivery did.
type DeliverResult struct {
	Sent, Failed, Corrupt, Busy int
	Err                         error // last delivery error (backend down)
}

// Deliver sends the spooled entries of kind to url (the currently
// configured endpoint; the stored one when url is empty), oldest first,
// deleting each after a 2xx answer. It stops at the first failure (the
// backend is down or slow: the rest would fail too). wait says whether to
// wait for another deliverer of the same kind to finish (gtrun flush) or
// to leave the work to it (background delivery).
func (s *Spool) Deliver(ctx context.Context, client *http.Client, kind, url string, headers map[string]string, wait bool) DeliverResult {
	var res DeliverResult
	lockPath := filepath.Join(s.Dir, kind, ".deliver.lock")
	lk, err := state.TryLock(lockPath)
	for wait && errors.Is(err, state.ErrLocked) && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
		lk, err = state.TryLock(lockPath)
	}
	if err != nil {
		res.Busy = 1
		if !errors.Is(err, state.ErrLocked) {
			res.Err = err
		}
		return res
	}
	defer lk.Unlock()
	for _, e := range s.entries(kind) {
		if ctx.Err() != nil {
			res.Err = ctx.Err()
			return res
		}
		h, body, err := readEntry(e.path)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			s.Warn(fmt.Sprintf("spool: skipping damaged entry %s: %v", filepath.Base(e.path), err))
			os.Rename(e.path, e.path+".bad")
			res.Corrupt++
			continue
		}
		target := url
		if target == "" {
			target = h.URL
		}
		if err := post(ctx, client, target, h, body, headers); err != nil {
			var perm permanentError
			if errors.As(err, &perm) {
				s.Warn(fmt.Sprintf("spool: %s refused a batch for good (%v); dropped", target, err))
				os.Remove(e.path)
				res.Failed++
				continue
			}
			res.Err = err
			return res
		}
		os.Remove(e.path)
		res.Sent++
	}
	return res
}

type permanentError struct{ status int }

func (p permanentError) Error() string { return fmt.Sprintf("HTTP %d", p.status) }

func post(ctx context.Context, client *http.Client, url string, h spoolHeader, body []byte, headers map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return permanentError{0}
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", h.ContentType)
	if h.ContentEncoding != "" {
		req.Header.Set("Content-Encoding", h.ContentEncoding)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case isPermanent(resp.StatusCode):
		return permanentError{resp.StatusCode}
	}
	return fmt.Errorf("HTTP %d", resp.StatusCode)
}

// isPermanent: the payload itself is refused, so retrying cannot help.
// Everything else (5xx, 429, 408, 404 from a misrouted URL that the
// operator may fix) is kept for a later delivery.
func isPermanent(code int) bool { return code == 400 || code == 413 || code == 415 }
