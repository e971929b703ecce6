package hubhttp

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/auth"
)

// ClientIP is the address of the client a request comes from. A proxy on
// the same machine (nginx, Caddy) passes the client in X-Forwarded-For,
// whose last entry is the one that proxy wrote; other clients cannot reach
// the hub through loopback, so they cannot choose their address. Earlier
// entries are the client's own word and are ignored.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip != nil && ip.IsLoopback() {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			list := strings.Split(xff[len(xff)-1], ",")
			if fwd := net.ParseIP(strings.TrimSpace(list[len(list)-1])); fwd != nil {
				ip = fwd
			}
		}
	}
	if ip == nil {
		return host
	}
	return ip.String()
}

// Audit records e through aud (which may be nil), with the request's
// caller as actor unless e names one, its client address and user agent.
func Audit(aud haven.Auditor, r *http.Request, e haven.AuditEntry) {
	if aud == nil {
		return
	}
	AuditAs(aud, r, Actor(r), e)
}

// AuditAs is Audit for an actor the request's context does not carry yet,
// such as a user who has just signed in.
func AuditAs(aud haven.Auditor, r *http.Request, a *auth.Actor, e haven.AuditEntry) {
	if aud == nil {
		return
	}
	e = AuditEntryAs(r, a, e)
	// The action is done once the request gets here: a client that hangs
	// up must not keep it out of the log.
	aud.Record(context.WithoutCancel(r.Context()), e)
}

// AuditEntry is e completed with the request's caller as actor (unless e
// names one), its client address and user agent, for haven.WithAudit: the
// store writes it in the transaction of the change it records.
func AuditEntry(r *http.Request, e haven.AuditEntry) haven.AuditEntry {
	return AuditEntryAs(r, Actor(r), e)
}

// AuditEntryAs is AuditEntry for an actor the request's context does not
// carry.
func AuditEntryAs(r *http.Request, a *auth.Actor, e haven.AuditEntry) haven.AuditEntry {
	if e.ActorID == 0 && e.ActorName == "" && !a.Anonymous() {
		e.ActorID, e.ActorName, e.TokenID = a.User.ID, a.User.Name, a.TokenID
	}
	e.IP = ClientIP(r)
	e.UserAgent = r.UserAgent()
	return e
}
