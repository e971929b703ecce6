package inference

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultKeepAlive is how often a held streaming request is sent an SSE
// comment.
const DefaultKeepAlive = 10 * time.Second

// sniffLimit bounds the body read to tell a streaming request.
const sniffLimit = 1 << 20

// HeldStream keeps a streaming request (SSE) alive while it waits for a
// replica, a model's load or a place in line: after every interval it
// sends a ": keep-alive" comment, which both Hub clients skip, so that
// proxies in between do not cut a connection on which nothing came. The
// first comment commits the answer's head (200, text/event-stream); from
// then on what goes wrong is told as an SSE error event, and the engine's
// answer is passed on without its head. A nil *HeldStream (a request that
// is no stream) does nothing.
type HeldStream struct {
	w     http.ResponseWriter
	every time.Duration
	mu    sync.Mutex
	sent  bool
	stop  chan struct{}
	done  chan struct{}
}

// ReadBody reads r's body for StreamRequest when it may be a JSON request
// and puts it back for whoever reads it next; nil when it was not read.
func ReadBody(r *http.Request) ([]byte, error) {
	if r.Method != http.MethodPost || r.Body == nil {
		return nil, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return nil, nil
		}
	}
	head, err := io.ReadAll(io.LimitReader(r.Body, sniffLimit+1))
	if err != nil {
		return nil, err
	}
	if len(head) > sniffLimit {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
		return nil, nil
	}
	// Read whole: the server may close the body once the answer started
	// (keep-alive comments), so it is not read from again.
	r.Body = io.NopCloser(bytes.NewReader(head))
	r.ContentLength = int64(len(head))
	return head, nil
}

// StreamRequest reports whether a request asks for an SSE answer: an
// Accept of text/event-stream, or "stream": true in its JSON body.
func StreamRequest(r *http.Request, body []byte) bool {
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		return true
	}
	if body == nil || !bytes.Contains(body, []byte(`"stream"`)) {
		return false
	}
	var b struct {
		Stream bool `json:"stream"`
	}
	return json.Unmarshal(body, &b) == nil && b.Stream
}

// HoldStream starts the keep-alive comments on w for a streaming request
// (stream true), every interval; it returns nil otherwise.
func HoldStream(w http.ResponseWriter, stream bool, every time.Duration) *HeldStream {
	if !stream {
		return nil
	}
	if every <= 0 {
		every = DefaultKeepAlive
	}
	h := &HeldStream{w: w, every: every, stop: make(chan struct{}), done: make(chan struct{})}
	go h.beat()
	return h
}

func (h *HeldStream) beat() {
	defer close(h.done)
	t := time.NewTicker(h.every)
	defer t.Stop()
	rc := http.NewResponseController(h.w)
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		h.mu.Lock()
		if !h.sent {
			hd := h.w.Header()
			hd.Set("Content-Type", "text/event-stream")
			hd.Set("Cache-Control", "no-cache")
			hd.Set("X-Accel-Buffering", "no")
			h.w.WriteHeader(http.StatusOK)
			h.sent = true
		}
		_, err := io.WriteString(h.w, ": keep-alive\n\n")
		if err == nil {
			err = rc.Flush()
		}
		h.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// End stops the comments; the response is the caller's alone afterwards.
func (h *HeldStream) End() {
	if h == nil {
		return
	}
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	<-h.done
}

// Committed reports whether the head went out (End first).
func (h *HeldStream) Committed() bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent
}

// Fail tells an error as the stream's last event, in the shape both Hub
// clients read from TGI: {"error", "error_type"}.
func (h *HeldStream) Fail(msg, errType string) {
	b, _ := json.Marshal(map[string]any{"error": msg, "error_type": errType})
	io.WriteString(h.w, "data: "+string(b)+"\n\n")
	http.NewResponseController(h.w).Flush()
}

// Writer is the ResponseWriter to proxy the engine's answer into: once the
// head went out, the engine's head is dropped.
func (h *HeldStream) Writer(w http.ResponseWriter) http.ResponseWriter {
	if !h.Committed() {
		return w
	}
	return headless{w}
}

// Adapt is a ReverseProxy ModifyResponse step: once the head went out, an
// engine's answer that is no event stream becomes an event: an error event
// for an error, else one data event.
func (h *HeldStream) Adapt(resp *http.Response) error {
	if !h.Committed() {
		return nil
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); resp.StatusCode == http.StatusOK && mt == "text/event-stream" {
		return nil
	}
	if resp.StatusCode == http.StatusOK {
		// A whole answer where a stream was asked: one event.
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		setBody(resp, "data: "+strings.TrimSpace(string(raw))+"\n\n")
		return nil
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	var e struct {
		Error any    `json:"error"`
		Type  string `json:"error_type"`
	}
	msg := strings.TrimSpace(string(raw))
	if json.Unmarshal(raw, &e) == nil && e.Error != nil {
		switch x := e.Error.(type) {
		case string:
			msg = x
		case map[string]any:
			if m, ok := x["message"].(string); ok {
				msg = m
			}
		}
	}
	if msg == "" {
		msg = "the engine answered " + strconv.Itoa(resp.StatusCode)
	}
	typ := e.Type
	if typ == "" {
		typ = "generation"
	}
	b, _ := json.Marshal(map[string]any{"error": msg, "error_type": typ})
	setBody(resp, "data: "+string(b)+"\n\n")
	return nil
}

func setBody(resp *http.Response, body string) {
	resp.Body = io.NopCloser(strings.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Type", "text/event-stream")
	resp.Header.Del("Content-Length")
	resp.StatusCode = http.StatusOK
}

// headless drops the head of an answer whose head went out already.
type headless struct{ http.ResponseWriter }

func (headless) WriteHeader(int)               {}
func (h headless) Unwrap() http.ResponseWriter { return h.ResponseWriter }
func (h headless) Write(b []byte) (int, error) { return h.ResponseWriter.Write(b) }
func (h headless) Header() http.Header         { return http.Header{} }
