package engine

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"strings"

	"github.com/hotpath/hotpath/auth"
	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/metrics"
	"github.com/hotpath/hotpath/parser"
	compiled "github.com/hotpath/hotpath/route"
)

// Route authentication and header edits ("the gate"): compiled per route
// from its auth:, headers: and request_id settings, applied at a few hook
// points of the state machine (down.go):
//
//   - begin: gateBegin runs right after routing, before the route's rate
//     limit and cache (policy.go), so a limit keyed on a field the auth
//     injects counts per authenticated identity. A refused request is
//     answered here (401/403) and never reaches the limiter or upstream.
//   - buildRequestHead: the credential, the client's copies of injected
//     fields and the removed fields are dropped; identity, set/add fields
//     and X-Request-Id are appended (transform.go).
//   - every response head sent to the client (proxied, cached, local):
//     response edits and X-Request-Id (transform.go).
//
// The verification logic lives in package auth; the per-loop cache of
// verified credentials (loop.gate) makes a repeated credential cost a hash
// and a compare, with nothing allocated. A Basic credential that cache
// cannot answer is checked with bcrypt by a worker pool while the request
// is parked (authpool.go): the loop never runs a bcrypt.

// gate is a route's compiled auth and header edits; nil when it has none.
type gate struct {
	route string

	// Auth: at most one of jwt, keys, basic.
	jwt   *auth.JWT
	keys  *auth.APIKeys
	basic *auth.Basic

	credHeader string   // the field carrying the credential ("" for none)
	bearer     bool     // credHeader is Authorization: "Bearer <token>" / "Basic <b64>"
	credQuery  string   // query parameter carrying it ("" for none)
	forward    bool     // forward_credentials
	keyLines   [][]byte // api_key: "Name-Header: name\r\n" per key; nil without name_header
	userHeader string   // basic: user_header

	challenge auth.Challenge // WWW-Authenticate lines of a 401 and a 403

	// Header edits (transform.go). Names are lower case.
	reqDrop  []string
	reqAdd   []compiled.Field
	respDrop []string
	respAdd  []compiled.Field

	requestID bool // X-Request-Id upstream and to the client
	needID    bool // an ID is needed (request_id, or a ${request_id} value)

	// client_cert (tls.go): a verified client certificate required, and
	// the fields that carry its subject and SANs upstream ("" for none).
	certRequired          bool
	certSubject, certSANs string
}

// gateState is a client connection's gate state for its current exchange,
// part of policyState; gateBegin resets it.
type gateState struct {
	ident []byte // identity fields to inject, "Name: value\r\n" lines
	reqID []byte // the exchange's request ID

	// A request parked for a Basic check (authpool.go): a copy of its
	// head, parsed again on resume.
	authHead []byte
}

// loopGate is a loop's share of the gate: the verified-credential cache and
// the request-ID generator, created on first use.
type loopGate struct {
	cache *auth.Cache
	idgen requestIDs
}

// authCacheSlots is the size of each loop's verified-credential table.
const authCacheSlots = 4096

// compileGate compiles a route's auth, headers and request_id into r.gate
// (nil when it has none) and filters r's direct response. Errors name the
// config field; key and htpasswd files are read here, so hotpath -check
// reports unreadable or malformed ones.
func compileGate(cfg *config.Config, i int, rc *config.Route, rd *compiled.Route, r *route) config.Errors {
	reqID := rc.RequestID || cfg.RequestID
	if rc.Auth == nil && rc.Headers == nil && !reqID && rc.ClientCert == nil {
		return nil
	}
	name := r.name
	var errs config.Errors
	p := fmt.Sprintf("routes[%d]", i)
	bad := func(path string, err error) { errs = append(errs, cfg.Errorf(path, err.Error())) }
	g := &gate{route: name, requestID: reqID, needID: reqID}
	if a := rc.Auth; a != nil {
		g.forward = a.ForwardCredentials
		switch {
		case a.JWT != nil:
			j := a.JWT
			jp := p + ".auth.jwt"
			opts := auth.JWTOptions{Issuer: j.Issuer, Audience: j.Audience, Leeway: j.Leeway}
			ok := true
			for k, key := range j.Keys {
				kp := fmt.Sprintf("%s.keys[%d]", jp, k)
				jk := auth.JWTKey{Kid: key.Kid, Alg: key.Alg}
				switch {
				case key.Secret != "":
					jk.Secret = []byte(key.Secret)
				case key.SecretFile != "":
					b, err := os.ReadFile(key.SecretFile)
					if err != nil {
						bad(kp+".secret_file", fmt.Errorf("cannot read: %v", err))
						ok = false
						continue
					}
					jk.Secret = bytes.TrimRight(b, "\r\n")
				case key.PublicKeyFile != "":
					b, err := os.ReadFile(key.PublicKeyFile)
					if err != nil {
						bad(kp+".public_key_file", fmt.Errorf("cannot read: %v", err))
						ok = false
						continue
					}
					jk.PublicKeyPEM = b
				}
				if _, err := auth.ParseKey(jk.Alg, jk.Secret, jk.PublicKeyPEM); err != nil {
					field := ".public_key_file"
					switch {
					case key.Secret != "":
						field = ".secret"
					case key.SecretFile != "":
						field = ".secret_file"
					}
					bad(kp+field, err)
					ok = false
				}
				opts.Keys = append(opts.Keys, jk)
			}
			for _, c := range config.SortedKeys(j.ClaimsToHeaders) {
				opts.Headers = append(opts.Headers, auth.ClaimHeader{Claim: c, Header: j.ClaimsToHeaders[c]})
				g.reqDrop = append(g.reqDrop, strings.ToLower(j.ClaimsToHeaders[c]))
			}
			for _, c := range config.SortedKeys(j.RequiredClaims) {
				opts.Required = append(opts.Required, auth.RequiredClaim{Claim: c, Value: j.RequiredClaims[c]})
			}
			if ok && len(opts.Keys) > 0 {
				v, err := auth.NewJWT(opts)
				if err != nil {
					bad(jp+".keys", err)
				}
				g.jwt = v
			}
			g.credHeader, g.credQuery = j.Header, j.Query
			g.challenge = auth.BearerChallenge()
		case a.APIKey != nil:
			k := a.APIKey
			var keys []auth.APIKey
			for e, key := range k.Keys {
				d := sha256.Sum256([]byte(key.Key))
				if key.KeySHA256 != "" {
					var err error
					if d, err = auth.ParseDigest(key.KeySHA256); err != nil {
						bad(fmt.Sprintf("%s.auth.api_key.keys[%d].key_sha256", p, e), err)
					}
				}
				keys = append(keys, auth.APIKey{Name: key.Name, Digest: d})
				if k.NameHeader != "" {
					g.keyLines = append(g.keyLines, []byte(k.NameHeader+": "+key.Name+"\r\n"))
				}
			}
			if k.NameHeader != "" {
				g.reqDrop = append(g.reqDrop, strings.ToLower(k.NameHeader))
			}
			g.keys = auth.NewAPIKeys(keys)
			g.credHeader, g.credQuery = k.Header, k.Query
			g.challenge = auth.APIKeyChallenge()
		case a.Basic != nil:
			b := a.Basic
			data, err := os.ReadFile(b.HtpasswdFile)
			if err != nil {
				bad(p+".auth.basic.htpasswd_file", fmt.Errorf("cannot read: %v", err))
			} else if g.basic, err = auth.ParseHtpasswd(data); err != nil {
				bad(p+".auth.basic.htpasswd_file", fmt.Errorf("%s: %v", b.HtpasswdFile, err))
			}
			g.credHeader = "Authorization"
			g.userHeader = b.UserHeader
			if b.UserHeader != "" {
				g.reqDrop = append(g.reqDrop, strings.ToLower(b.UserHeader))
			}
			g.challenge = auth.BasicChallenge(b.Realm)
		}
		g.bearer = strings.EqualFold(g.credHeader, "authorization")
		if !g.forward && g.credHeader != "" {
			g.reqDrop = append(g.reqDrop, strings.ToLower(g.credHeader))
		}
	}
	if cc := rc.ClientCert; cc != nil {
		g.certRequired, g.certSubject, g.certSANs = cc.Required, cc.SubjectHeader, cc.SANHeader
		for _, name := range []string{cc.SubjectHeader, cc.SANHeader} {
			if name != "" {
				g.reqDrop = append(g.reqDrop, strings.ToLower(name)) // never the client's
			}
		}
	}
	g.addEdits(&rd.Edits)
	if r.direct != nil {
		g.filterDirect(r.direct)
	}
	r.gate = g
	return errs
}

// gateBegin authenticates the request just routed to rt (head is its
// head's bytes) and prepares its header edits. It returns true when the
// exchange is answered (401/403, or 503 when the Basic verifier pool is
// full: d.local is set and d.out holds the response) or parked until a
// verifier worker has checked its Basic credential (authpool.go).
func (d *exchange) gateBegin(rt *route, head []byte) bool {
	g := rt.gate
	ps := d.policies()
	d.gateReset(g, ps)
	if (g.certRequired || g.certSubject != "" || g.certSANs != "") && d.clientCert(g, ps) {
		return true // 403: no verified client certificate (tls.go)
	}
	if g.jwt == nil && g.keys == nil && g.basic == nil {
		return false
	}
	st, cred := d.authenticate(g, ps)
	switch st {
	case auth.OK:
		return false
	case auth.Unverified:
		return d.parkForAuth(g, ps, cred, head)
	}
	d.authRefused(g, st)
	return true
}

// gateReset clears the exchange's identity fields and takes its request
// ID: what every response of the route renders, refusals included.
func (d *exchange) gateReset(g *gate, ps *policyState) {
	ps.ident = ps.ident[:0]
	ps.reqID = ps.reqID[:0]
	if g.needID {
		d.takeRequestID()
	}
}

// authRefused counts a refused request and renders its 401 or 403.
func (d *exchange) authRefused(g *gate, st auth.Status) {
	d.authRejected(authReason(st))
	d.renderLocal(st.HTTPStatus(), g.challenge.Line(st))
}

// authenticate verifies the request's credential with g's verifier, and
// on success renders the identity fields into ps.ident. A Basic
// credential the loop's cache cannot answer is Unverified, returned
// decoded in cred (owned by the caller) for a verifier worker.
func (d *exchange) authenticate(g *gate, ps *policyState) (auth.Status, []byte) {
	cred := d.credential(g)
	switch {
	case g.jwt != nil:
		hdr, st := d.lp.authCache().JWT(g.jwt, cred, d.lp.srv.wallNow().UnixNano())
		if st == auth.OK {
			ps.ident = append(ps.ident, hdr...)
		}
		return st, nil
	case g.keys != nil:
		if len(cred) == 0 {
			return auth.Missing, nil
		}
		i := g.keys.Verify(cred)
		if i < 0 {
			return auth.Invalid, nil
		}
		if g.keyLines != nil {
			ps.ident = append(ps.ident, g.keyLines[i]...)
		}
		return auth.OK, nil
	default:
		user, plain, st := d.lp.authCache().Basic(g.basic, cred, d.lp.srv.wallNow().UnixNano())
		if st == auth.OK {
			d.appendUser(g, ps, user)
		}
		return st, plain
	}
}

// appendUser renders the Basic user_header field into ps.ident.
func (d *exchange) appendUser(g *gate, ps *policyState, user []byte) {
	if g.userHeader == "" {
		return
	}
	ps.ident = append(ps.ident, g.userHeader...)
	ps.ident = append(ps.ident, ": "...)
	ps.ident = append(ps.ident, user...)
	ps.ident = append(ps.ident, "\r\n"...)
}

// credential returns the request's credential: the credential field's
// value (after the Bearer or Basic scheme on Authorization), else the
// query parameter's; nil when there is none.
func (d *exchange) credential(g *gate) []byte {
	if v, ok := headerValue(d.req.Headers, g.credHeader); ok {
		v = parser.TrimOWS(v)
		if !g.bearer {
			return v
		}
		scheme := "bearer "
		if g.basic != nil {
			scheme = "basic "
		}
		if len(v) <= len(scheme) || !parser.EqualFold(v[:len(scheme)], scheme) {
			return nil
		}
		return parser.TrimOWS(v[len(scheme):])
	}
	if g.credQuery != "" {
		if v, ok := queryValue(d.req.Query, g.credQuery); ok {
			return v
		}
	}
	return nil
}

// authCache returns the loop's verified-credential cache.
func (lp *loop) authCache() *auth.Cache {
	if lp.gate.cache == nil {
		lp.gate.cache = auth.NewCache(authCacheSlots)
	}
	return lp.gate.cache
}

// authRejected counts a refused request.
func (d *exchange) authRejected(r metrics.AuthReason) {
	d.setReason(authLogReason[r])
	if mt := d.tbl.mt; mt != nil {
		mt.Shard(d.lp.obs.id).AuthRejected(d.rt.id, r)
	}
}

func authReason(st auth.Status) metrics.AuthReason {
	switch st {
	case auth.Missing:
		return metrics.AuthMissing
	case auth.Forbidden:
		return metrics.AuthForbidden
	}
	return metrics.AuthInvalid
}
