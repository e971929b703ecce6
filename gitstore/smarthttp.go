package gitstore

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/havenhub/haven"
)

// The two git services offered over smart HTTP.
const (
	UploadPack  = "git-upload-pack"  // fetch and clone
	ReceivePack = "git-receive-pack" // push
)

// maxStderr bounds how much of git's stderr is kept for an error message.
const maxStderr = 8 << 10

// ServeSmartHTTP answers one request of git's smart HTTP protocol for the
// repository of id. The caller has routed and authorised it; sub is the part
// of the URL path after "{repo}.git/": "info/refs" (with ?service=...),
// "git-upload-pack" or "git-receive-pack". Pack data streams both ways.
//
// An error returned before anything was written (unknown repository,
// malformed request) is for the caller to turn into a response; after
// output has started it can only be logged.
func (s *Store) ServeSmartHTTP(w http.ResponseWriter, r *http.Request, t haven.RepoType, id haven.RepoID, sub string) error {
	return s.serveSmartHTTP(w, r, t, id, sub, nil)
}

// RefUpdate is one command of a push: move Ref from Old to New. An all-zero
// Old creates the ref, an all-zero New deletes it.
type RefUpdate struct {
	Old, New, Ref string
}

// Deletes reports whether u deletes its ref.
func (u RefUpdate) Deletes() bool { return strings.Trim(u.New, "0") == "" }

// Creates reports whether u creates its ref.
func (u RefUpdate) Creates() bool { return strings.Trim(u.Old, "0") == "" }

// ServeReceivePack is ServeSmartHTTP for a "git-receive-pack" request whose
// ref updates allow must accept first: the commands are read before git
// sees the request, and an error from allow refuses the whole push with
// nothing changed (the caller turns it into a response).
func (s *Store) ServeReceivePack(w http.ResponseWriter, r *http.Request, t haven.RepoType, id haven.RepoID, allow func([]RefUpdate) error) error {
	return s.serveSmartHTTP(w, r, t, id, ReceivePack, allow)
}

// maxCommands bounds the bytes of a push's command list read for allow.
const maxCommands = 1 << 20

// readCommands reads the command list that starts a receive-pack request,
// up to its flush packet, and returns the updates and the bytes read, which
// git must still be given.
func readCommands(body io.Reader) ([]RefUpdate, []byte, error) {
	var buf bytes.Buffer
	var updates []RefUpdate
	bad := func(why string) ([]RefUpdate, []byte, error) {
		return nil, nil, haven.Errorf(haven.EInvalid, "Malformed push: %s", why)
	}
	for {
		var head [4]byte
		if _, err := io.ReadFull(body, head[:]); err != nil {
			return bad("the command list ends early")
		}
		buf.Write(head[:])
		n, err := strconv.ParseUint(string(head[:]), 16, 16)
		if err != nil {
			return bad("a bad packet length")
		}
		if n == 0 {
			return updates, buf.Bytes(), nil
		}
		if n < 4 || buf.Len()+int(n) > maxCommands {
			return bad("a bad or oversized command list")
		}
		line := make([]byte, n-4)
		if _, err := io.ReadFull(body, line); err != nil {
			return bad("the command list ends early")
		}
		buf.Write(line)
		text, _, _ := strings.Cut(strings.TrimSuffix(string(line), "\n"), "\x00")
		if strings.HasPrefix(text, "shallow ") {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 3 {
			return bad("a command that is not \"old new ref\"")
		}
		updates = append(updates, RefUpdate{Old: f[0], New: f[1], Ref: f[2]})
	}
}

func (s *Store) serveSmartHTTP(w http.ResponseWriter, r *http.Request, t haven.RepoType, id haven.RepoID, sub string, allow func([]RefUpdate) error) error {
	var service string
	advertise := false
	switch sub {
	case "info/refs":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return haven.Errorf(haven.EInvalid, "Method %s not allowed on info/refs", r.Method)
		}
		service, advertise = r.URL.Query().Get("service"), true
		if service != UploadPack && service != ReceivePack {
			return haven.Errorf(haven.EForbidden, "Only the smart HTTP protocol is supported")
		}
	case UploadPack, ReceivePack:
		if r.Method != http.MethodPost {
			return haven.Errorf(haven.EInvalid, "Method %s not allowed on %s", r.Method, sub)
		}
		service = sub
	default:
		return haven.Errorf(haven.ENotFound, "Not found")
	}
	if err := checkID(id); err != nil {
		return haven.Errorf(haven.ERepoNotFound, "Repository not found")
	}
	repo, err := s.open(s.Path(t, id))
	if err != nil {
		return err
	}

	protocol := r.Header.Get("Git-Protocol")
	args := []string{strings.TrimPrefix(service, "git-"), "--stateless-rpc"}
	if advertise {
		args = append(args, "--advertise-refs")
	}
	args = append(args, repo.path)
	cmd := gitCommand(r.Context(), "", args...)
	if protocol != "" {
		cmd.Env = append(cmd.Env, "GIT_PROTOCOL="+protocol)
	}
	stderr := &limitedBuffer{max: maxStderr}
	cmd.Stderr = stderr

	h := w.Header()
	h.Set("Expires", "Fri, 01 Jan 1980 00:00:00 GMT")
	h.Set("Pragma", "no-cache")
	h.Set("Cache-Control", "no-cache, max-age=0, must-revalidate")

	if advertise {
		// The advertisement is small: build it whole so a failure can still
		// become a proper error response.
		out, err := cmd.Output()
		if err != nil {
			return &gitError{args: args, err: err, stderr: stderr.String()}
		}
		h.Set("Content-Type", "application/x-"+service+"-advertisement")
		w.WriteHeader(http.StatusOK)
		// Protocol v2 (fetch only) starts with its capabilities; v0 and v1
		// clients expect the service announcement first.
		if !(service == UploadPack && strings.Contains(protocol, "version=2")) {
			io.WriteString(w, pktLine("# service="+service+"\n")+"0000")
		}
		_, err = w.Write(out)
		return err
	}

	var body io.Reader = r.Body
	if enc := r.Header.Get("Content-Encoding"); enc == "gzip" || enc == "x-gzip" {
		gz, err := gzip.NewReader(body)
		if err != nil {
			return haven.Errorf(haven.EInvalid, "Bad gzip request body: %v", err)
		}
		defer gz.Close()
		body = gz
	}
	if allow != nil {
		updates, read, err := readCommands(body)
		if err != nil {
			return err
		}
		if err := allow(updates); err != nil {
			return err
		}
		body = io.MultiReader(bytes.NewReader(read), body)
	}
	rc := http.NewResponseController(w)
	// git reads the rest of the request while it already answers.
	_ = rc.EnableFullDuplex()
	h.Set("Content-Type", "application/x-"+service+"-result")
	out := &flushWriter{w: w, rc: rc}
	cmd.Stdin = body
	cmd.Stdout = out
	if err := cmd.Run(); err != nil {
		return &gitError{args: args, err: err, stderr: stderr.String()}
	}
	return nil
}

// pktLine frames s as one git pkt-line.
func pktLine(s string) string {
	const hexdigits = "0123456789abcdef"
	n := len(s) + 4
	return string([]byte{hexdigits[n>>12&15], hexdigits[n>>8&15], hexdigits[n>>4&15], hexdigits[n&15]}) + s
}

// flushWriter pushes every write to the client at once, so that progress
// and pack data are not held back in buffers.
type flushWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (f *flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil {
		return n, err
	}
	if ferr := f.rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
		return n, ferr
	}
	return n, nil
}

// limitedBuffer keeps the first max bytes written to it and drops the rest.
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string { return strings.TrimSpace(b.buf.String()) }
