package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// What the test provider's tokens say, and what the gateway expects.
const (
	issuer   = "https://idp.test/"
	audience = "https://api.test"
)

// signingKey is a key of the test provider: it signs tokens with its
// algorithm, and names itself in their `kid`.
type signingKey struct {
	kid    string
	method jwt.SigningMethod
	key    crypto.Signer
}

func rsaKey(t *testing.T, kid string) signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid, jwt.SigningMethodRS256, k}
}

func ecKey(t *testing.T, kid string) signingKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid, jwt.SigningMethodES256, k}
}

func edKey(t *testing.T, kid string) signingKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid, jwt.SigningMethodEdDSA, k}
}

// sign returns a token of claims, signed by k with its own algorithm.
func (k signingKey) sign(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	return k.signWith(t, k.method, k.key, claims)
}

// signWith returns a token that names k's kid (if any), signed by method
// with key.
func (k signingKey) signWith(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if k.kid != "" {
		tok.Header["kid"] = k.kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jwk is k's public key as the key set publishes it.
func (k signingKey) jwk(t *testing.T, use jwkset.USE) jwkset.JWKMarshal {
	t.Helper()
	j, err := jwkset.NewJWKFromKey(k.key.Public(), jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: jwkset.ALG(k.method.Alg()), USE: use},
	})
	if err != nil {
		t.Fatal(err)
	}
	return j.Marshal()
}

// claims are a valid token's claims, with overrides (nil removes a claim).
func claims(overrides jwt.MapClaims) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": issuer, "aud": audience, "sub": "alice", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range overrides {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// testProvider is an identity provider's key set on a local HTTP server.
type testProvider struct {
	*httptest.Server
	fetches atomic.Int32

	mu     sync.Mutex
	keys   []jwkset.JWKMarshal
	status int
	hold   chan struct{} // when not nil, answers wait until it is closed
}

func newProvider(t *testing.T) *testProvider {
	t.Helper()
	p := &testProvider{status: http.StatusOK}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		keys, status, hold := p.keys, p.status, p.hold
		p.mu.Unlock()
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		if status != http.StatusOK {
			http.Error(w, "unavailable", status)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		json.NewEncoder(w).Encode(jwkset.JWKSMarshal{Keys: keys})
	}))
	t.Cleanup(p.Close)
	return p
}

// publish makes the key set hold keys (for signatures).
func (p *testProvider) publish(t *testing.T, keys ...signingKey) {
	t.Helper()
	set := []jwkset.JWKMarshal{}
	for _, k := range keys {
		set = append(set, k.jwk(t, jwkset.UseSig))
	}
	p.publishJWKs(set...)
}

func (p *testProvider) publishJWKs(keys ...jwkset.JWKMarshal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = keys
}

// holdAnswers makes the key set's answers wait until release is closed.
func (p *testProvider) holdAnswers(release chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hold = release
}

func (p *testProvider) answer(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = status
}

// clock is a time the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer collects log lines from any goroutine.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
