package notify_test

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/meta"
	"github.com/havenhub/haven/notify"
)

// received is one message the test's mail server accepted.
type received struct {
	from    string
	to      []string
	user    string // who authenticated, "" for nobody
	message []byte
}

// mailServer is a real SMTP server on a loopback port that keeps what it
// receives. With user set it demands authentication; fail refuses the
// first so many messages, as a mail server that is down would.
type mailServer struct {
	user, pass string
	mu         sync.Mutex
	fail       int
	got        []received
	arrived    chan struct{}
}

func (m *mailServer) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &mailSession{srv: m}, nil
}

type mailSession struct {
	srv  *mailServer
	cur  received
	auth string
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.srv.user || pass != s.srv.pass {
			return errors.New("invalid credentials")
		}
		s.auth = user
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.user != "" && s.auth == "" {
		return smtp.ErrAuthRequired
	}
	s.cur = received{from: from, user: s.auth}
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	if s.srv.fail > 0 {
		s.srv.fail--
		return &smtp.SMTPError{Code: 451, Message: "try again later"}
	}
	s.cur.message = b
	s.srv.got = append(s.srv.got, s.cur)
	s.srv.arrived <- struct{}{}
	return nil
}

func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }

// startMail runs m on a loopback port and returns its host:port.
func startMail(t *testing.T, m *mailServer) string {
	t.Helper()
	m.arrived = make(chan struct{}, 16)
	srv := smtp.NewServer(m)
	srv.Domain = "localhost"
	// The password crosses loopback only, which the client allows in the
	// clear; the server must allow it too.
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func openMeta(t *testing.T) *meta.Store {
	t.Helper()
	s, err := meta.Open(context.Background(), filepath.Join(t.TempDir(), "haven.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newUser(t *testing.T, s *meta.Store, name, email string) *haven.User {
	t.Helper()
	u := &haven.User{Name: name, Email: email}
	if err := s.CreateUser(context.Background(), u, ""); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestEmail(t *testing.T) {
	tests := []struct {
		name     string
		user     string // the mail server's account; "" for none
		url      string // the --smtp-url, with ADDR for the server
		fail     int
		wantUser string
	}{
		{"no authentication", "", "smtp://ADDR?from=haven@example.org", 0, ""},
		{"plain auth to localhost", "haven", "smtp://haven:s3cret@ADDR?from=haven@example.org", 0, "haven"},
		{"retried after a refusal", "", "smtp://ADDR?from=haven@example.org", 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := &mailServer{user: tt.user, pass: "s3cret", fail: tt.fail}
			addr := startMail(t, ms)
			st := openMeta(t)
			svc, err := notify.New(notify.Config{Meta: st, SMTP: strings.Replace(tt.url, "ADDR", addr, 1),
				Backoff: []time.Duration{10 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			svc.Start()
			defer svc.Close()
			alice := newUser(t, st, "alice", "alice@example.org")
			nomail := newUser(t, st, "nomail", "")
			ctx := context.Background()
			haven.Notify(ctx, svc, nomail, haven.Notification{Kind: haven.NotifyMention, Subject: "page only"})
			haven.Notify(ctx, svc, alice, haven.Notification{Kind: haven.NotifyAccessRequest, Actor: "bob",
				Subject: "bob asks for access to alice/gated – café", Body: "bob asks for access.\nA second line.",
				URL: "http://hub.example/alice/gated/settings"})
			select {
			case <-ms.arrived:
			case <-time.After(10 * time.Second):
				t.Fatal("no email arrived")
			}
			ms.mu.Lock()
			got := ms.got
			ms.mu.Unlock()
			if len(got) != 1 {
				t.Fatalf("%d emails, want 1 (nomail has no address)", len(got))
			}
			m := got[0]
			if m.from != "haven@example.org" || len(m.to) != 1 || m.to[0] != "alice@example.org" || m.user != tt.wantUser {
				t.Fatalf("envelope from %q to %v as %q", m.from, m.to, m.user)
			}
			msg, err := mail.ReadMessage(strings.NewReader(string(m.message)))
			if err != nil {
				t.Fatal(err)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if err != nil || subject != "bob asks for access to alice/gated – café" {
				t.Fatalf("subject %q (%v)", subject, err)
			}
			if msg.Header.Get("To") != "alice@example.org" || msg.Header.Get("From") != "haven@example.org" {
				t.Fatalf("headers %v", msg.Header)
			}
			body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
			if err != nil {
				t.Fatal(err)
			}
			want := "bob asks for access.\r\nA second line.\r\n\r\nhttp://hub.example/alice/gated/settings\r\n"
			if !strings.HasPrefix(string(body), want) {
				t.Fatalf("body %q, want %q", body, want)
			}
			for _, u := range []*haven.User{alice, nomail} {
				list, err := st.Notifications(ctx, u.ID, "", 0)
				if err != nil || len(list) != 1 {
					t.Fatalf("%s: %d notifications on the page (%v), want 1", u.Name, len(list), err)
				}
			}
		})
	}
}

func TestNoMailServer(t *testing.T) {
	st := openMeta(t)
	svc, err := notify.New(notify.Config{Meta: st})
	if err != nil {
		t.Fatal(err)
	}
	svc.Start()
	defer svc.Close()
	alice := newUser(t, st, "alice", "alice@example.org")
	haven.Notify(context.Background(), svc, alice, haven.Notification{Kind: haven.NotifyMention, Subject: "hello"})
	haven.Notify(context.Background(), nil, alice, haven.Notification{Kind: haven.NotifyMention, Subject: "nobody"})
	list, err := st.Notifications(context.Background(), alice.ID, "", 0)
	if err != nil || len(list) != 1 || list[0].Subject != "hello" {
		t.Fatalf("notifications %v (%v)", list, err)
	}
	job, err := st.Lease(context.Background(), []string{notify.JobEmail}, "test", time.Minute)
	if err != nil || job != nil {
		t.Fatalf("an email was queued without a mail server: %v (%v)", job, err)
	}
}

func TestSMTPURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"smtp://user:pass@mail.example.org:587?from=haven@example.org", true},
		{"smtp://mail.example.org?from=haven@example.org", true},
		{"smtp://mail.example.org", false},
		{"http://mail.example.org?from=haven@example.org", false},
		{"smtps://user:s3cret@mail.example.org?from=haven@example.org", false},
		{"smtp://?from=haven@example.org", false},
		{"smtp://mail.example.org?from=nobody", false},
		{"smtp://mail.example.org?from=a@b%0D%0ABcc:x@y", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			_, err := notify.New(notify.Config{SMTP: tt.url})
			if (err == nil) != tt.ok {
				t.Fatalf("err %v, want ok %v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}
