package e2e

import (
	"testing"
	"time"
)

// TestBrowserJobs drives the job pages in headless Chromium
// (e2e/browser/jobs.test.mjs): a job run through the API followed live on
// its page (log, training progress, stage), a long one cancelled with the
// page's button, and the namespace's list with both. Jobs run as local
// processes; python:3.12 becomes a uv environment, hence uv on PATH.
func TestBrowserJobs(t *testing.T) {
	b := needBrowser(t)
	s := startServer(t, serverOpts{Env: spacesEnv(t)})
	s.createUser("alice", "Alice Liddell")
	token := s.createToken("alice", "write")
	cmd := b.command([]string{
		"HAVEN_URL=" + s.URL,
		"HAVEN_USER=alice",
		"HAVEN_PASSWORD=pw-alice-e2e-secret", // as createUser sets it
		"HAVEN_TOKEN=" + token,
	}, "jobs.test.mjs")
	runLogged(t, 8*time.Minute, cmd)
}
