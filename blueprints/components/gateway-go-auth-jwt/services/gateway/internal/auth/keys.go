package auth

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
)

// How the key set is fetched. The Node.js gateway uses the same timeout,
// cooldown and age.
const (
	// fetchTimeout bounds one fetch of the key set, connection included.
	fetchTimeout = 5 * time.Second
	// cooldown is the least time between two fetches: a token signed by a
	// key the gateway does not know makes it fetch the set again (the
	// provider may have rotated its keys), but a flood of such tokens, or a
	// provider that does not answer, costs one fetch per cooldown at most.
	cooldown = 10 * time.Second
	// maxAge is how long a key set is used before it is fetched again, so
	// that a key the provider withdrew stops being accepted. The fetch runs
	// in the background: requests go on with the keys they have.
	maxAge = 5 * time.Minute
	// maxKeySetBytes bounds the key set's document.
	maxKeySetBytes = 1 << 20
	// minRSABits is the smallest RSA key taken (RFC 7518, 3.3; jose, in the
	// Node.js gateway, refuses smaller ones too).
	minRSABits = 2048
)

// errNoKeys is keySet's answer while it has no key set at all: it could
// not fetch one since the gateway started. The request gets a 503, not a
// 401: its token may well be valid, the fault is the gateway's.
var errNoKeys = errors.New("no key set to check tokens with")

// keySet is the identity provider's public keys, fetched from its JWKS URL
// and kept in memory. It is safe for concurrent use.
type keySet struct {
	url     string
	client  *http.Client
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time

	mu      sync.Mutex
	keys    keyfunc.Keyfunc // the set fetched last; nil until a fetch succeeds
	fetched time.Time       // when it was fetched
	tried   time.Time       // when the last fetch started, whatever came of it
	err     error           // why the last fetch failed; nil if it did not
	pending chan struct{}   // closed when the fetch in flight ends; nil when none is
}

func newKeySet(url string, log *slog.Logger) *keySet {
	return &keySet{
		url:     url,
		timeout: fetchTimeout,
		log:     log,
		now:     time.Now,
		client: &http.Client{
			// The configured URL is the one trusted: a redirect is an error
			// (as in jose, which the Node.js gateway uses).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// current returns the keys to check a token with. Without any, it fetches
// them (or joins the fetch in flight), unless the last fetch started less
// than cooldown ago: then it is errNoKeys at once. A set older than maxAge
// is fetched again in the background.
func (s *keySet) current(ctx context.Context) (keyfunc.Keyfunc, error) {
	s.mu.Lock()
	keys, stale := s.keys, s.now().Sub(s.fetched) >= maxAge
	s.mu.Unlock()
	if keys == nil {
		return s.wait(ctx, s.refetch())
	}
	if stale {
		s.refetch()
	}
	return keys, nil
}

// refresh fetches the keys again for a token signed by a key that is not
// among them, and returns the set that results: the same set when the
// cooldown is not over, or when the fetch failed.
func (s *keySet) refresh(ctx context.Context) (keyfunc.Keyfunc, error) {
	return s.wait(ctx, s.refetch())
}

// refetch starts a fetch, unless one is in flight or the last one started
// less than cooldown ago, and returns the channel that closes when the
// fetch in flight ends: nil when there is none.
func (s *keySet) refetch() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil && (s.tried.IsZero() || s.now().Sub(s.tried) >= cooldown) {
		done := make(chan struct{})
		s.pending, s.tried = done, s.now()
		// Not bound to a request: one that goes away must not cut the
		// fetch others wait for. It ends within s.timeout.
		go s.fetch(done)
	}
	return s.pending
}

// wait waits for the fetch pending (when not nil) to end, then returns the
// keys, or errNoKeys (with the last fetch's error) when there are none.
func (s *keySet) wait(ctx context.Context, pending <-chan struct{}) (keyfunc.Keyfunc, error) {
	if pending != nil {
		select {
		case <-pending:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", errNoKeys, ctx.Err())
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		return nil, fmt.Errorf("%w: %w", errNoKeys, s.err)
	}
	return s.keys, nil
}

// fetch fetches the key set, keeps it if it came, and closes done.
func (s *keySet) fetch(done chan struct{}) {
	defer close(done)
	keys, n, err := s.get()
	if err != nil {
		s.log.Warn("could not fetch the identity provider's keys", "url", s.url, "error", err)
	} else {
		s.log.Info("fetched the identity provider's keys", "url", s.url, "keys", n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.keys, s.fetched = keys, s.now()
	}
	s.err, s.pending = err, nil
}

// get fetches the key set and keeps the keys a token may be checked with:
// the public keys (RSA of minRSABits at least, EC, OKP; a private one has no
// business there) meant for signatures (no `use` or "sig", no `key_ops` or
// one with "verify"). A key that does not parse is left out; a document
// that is not a key set is an error.
func (s *keySet) get() (keyfunc.Keyfunc, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("status %d, not 200", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxKeySetBytes+1))
	if err != nil {
		return nil, 0, err
	}
	if len(body) > maxKeySetBytes {
		return nil, 0, fmt.Errorf("the key set is larger than %d bytes", maxKeySetBytes)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, 0, fmt.Errorf("not a JWK set: %w", err)
	}
	if set.Keys == nil {
		return nil, 0, errors.New(`not a JWK set: no "keys" array`)
	}
	store := jwkset.NewMemoryStorage()
	n := 0
	for i, raw := range set.Keys {
		var m jwkset.JWKMarshal
		if err := json.Unmarshal(raw, &m); err != nil {
			s.log.Warn("a key of the key set does not parse: left out", "url", s.url, "index", i, "error", err)
			continue
		}
		if !slices.Contains([]jwkset.KTY{jwkset.KtyRSA, jwkset.KtyEC, jwkset.KtyOKP}, m.KTY) || m.D != "" ||
			m.USE != "" && m.USE != jwkset.UseSig ||
			len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify) {
			continue
		}
		jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if rsaKey, ok := jwk.Key().(*rsa.PublicKey); err == nil && ok && rsaKey.N.BitLen() < minRSABits {
			err = fmt.Errorf("an RSA key of %d bits, fewer than %d", rsaKey.N.BitLen(), minRSABits)
		}
		if err != nil {
			s.log.Warn("a key of the key set is not valid: left out", "url", s.url, "kid", m.KID, "error", err)
			continue
		}
		if err := store.KeyWrite(ctx, jwk); err != nil {
			return nil, 0, err
		}
		n++
	}
	keys, err := keyfunc.New(keyfunc.Options{Ctx: context.Background(), Storage: store})
	return keys, n, err
}
