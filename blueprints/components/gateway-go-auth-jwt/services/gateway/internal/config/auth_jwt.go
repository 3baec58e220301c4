package config

import (
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Auth says how the gateway checks the bearer tokens (JWTs) of its callers:
// whose keys sign them, and what they must say.
type Auth struct {
	JWKSURL    string        // GATEWAY_JWKS_URL: the identity provider's key set
	Issuer     string        // GATEWAY_JWT_ISSUER: the `iss` every token carries
	Audience   string        // GATEWAY_JWT_AUDIENCE: a value `aud` must hold
	Algorithms []string      // GATEWAY_JWT_ALGORITHMS: the signing algorithms accepted
	ClockSkew  time.Duration // GATEWAY_JWT_CLOCK_SKEW_S: allowed on exp, nbf and iat
}

// JWTAlgorithms are the signing algorithms GATEWAY_JWT_ALGORITHMS may name:
// the asymmetric ones, whose keys the JWKS publishes. `none` and the HMAC
// algorithms (HS*) never are: an HMAC "key" taken from a JWKS would be a
// public key, which anyone can sign with.
var JWTAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Defaults of the JWT settings.
const (
	DefaultJWTAlgorithms = "RS256,ES256"
	DefaultJWTClockSkew  = 30 * time.Second
	maxJWTClockSkewS     = 300
)

// loadAuth reads the identity provider's settings. The JWKS URL, the issuer
// and the audience have no default: a gateway that would accept anyone's
// tokens, or nobody's, does not start.
func loadAuth(r *reader) Auth {
	return Auth{
		JWKSURL:    r.jwksURL("GATEWAY_JWKS_URL"),
		Issuer:     r.required("GATEWAY_JWT_ISSUER", "the exact `iss` of your identity provider's tokens, such as https://idp.example.com/"),
		Audience:   r.required("GATEWAY_JWT_AUDIENCE", "the `aud` value your identity provider puts in this API's tokens"),
		Algorithms: r.algorithms("GATEWAY_JWT_ALGORITHMS", DefaultJWTAlgorithms),
		ClockSkew:  time.Duration(r.integer("GATEWAY_JWT_CLOCK_SKEW_S", int64(DefaultJWTClockSkew/time.Second), 0, maxJWTClockSkewS)) * time.Second,
	}
}

// required reads a setting without a default and without spaces.
func (r *reader) required(name, what string) string {
	v := r.getenv(name)
	if v == "" {
		r.fail(name, v, "required: "+what)
		return ""
	}
	return r.str(name, "")
}

// jwksURL reads the key set's URL: https, or http on a loopback host only.
// The key set decides whose tokens are accepted, so whoever could rewrite
// it on its way (plain http across a network) could mint tokens; a local
// identity provider (development, tests) is the one exception. User info
// would end up in logs, a fragment is never sent: neither is accepted.
func (r *reader) jwksURL(name string) string {
	const want = "the https:// URL of your identity provider's key set (JWKS), such as https://idp.example.com/.well-known/jwks.json; http:// only on localhost"
	v := r.getenv(name)
	if v == "" {
		r.fail(name, v, "required: "+want)
		return ""
	}
	u, err := url.Parse(v)
	secure := err == nil && (u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname()))
	if !secure || u.Host == "" || u.User != nil || u.Fragment != "" || strings.ContainsAny(v, " \t\r\n") {
		r.fail(name, v, want)
		return ""
	}
	return v
}

// isLoopback says whether host names this machine: localhost or a loopback
// address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// algorithms reads a comma-separated list of JWTAlgorithms.
func (r *reader) algorithms(name, def string) []string {
	v := r.getenv(name)
	if v == "" {
		v = def
	}
	var algs []string
	for alg := range strings.SplitSeq(v, ",") {
		alg = strings.TrimSpace(alg)
		if !slices.Contains(JWTAlgorithms, alg) {
			r.fail(name, v, "a comma-separated list of "+strings.Join(JWTAlgorithms, ", ")+" (never none or HS*: they would let anyone sign)")
			return nil
		}
		if !slices.Contains(algs, alg) {
			algs = append(algs, alg)
		}
	}
	return algs
}
