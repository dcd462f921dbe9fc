package tokens

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// DevKeyFile is the name of the signing key that EnsureDevKey keeps in the
// data directory.
const DevKeyFile = "signing-key.pem"

// maxKeyFileSize bounds what LoadKeys reads from one file.
const maxKeyFileSize = 64 << 10

// signingKey is one Ed25519 key pair and its RFC 7638 thumbprint.
type signingKey struct {
	kid  string
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

// Keyring holds the configured Ed25519 keys: the newest (the last configured)
// signs, every one verifies. It is immutable and safe for concurrent use.
type Keyring struct {
	keys   []signingKey // in configuration order
	signer signingKey
	jwks   []byte
}

// LoadKeys reads Ed25519 private keys from PEM files ("PRIVATE KEY", PKCS#8),
// in order: the last path is the newest key and signs new tokens, all of them
// verify. To rotate, append a new key's path; to retire a key, remove its
// path, after which tokens it signed are rejected. LoadKeys fails when paths
// is empty, when a file cannot be read or holds anything but one Ed25519
// PKCS#8 private key, or when two paths hold the same key. Errors name the
// path, never the key.
func LoadKeys(paths []string) (*Keyring, error) {
	if len(paths) == 0 {
		return nil, errors.New("tokens: no signing key configured")
	}
	keys := make([]ed25519.PrivateKey, 0, len(paths))
	for _, path := range paths {
		k, err := readKey(path)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return NewKeyring(keys...)
}

// NewKeyring builds a Keyring from keys in memory, oldest first: the last key
// signs, all verify. It fails when keys is empty, when a key is not a full
// Ed25519 private key, or when two keys are the same.
func NewKeyring(keys ...ed25519.PrivateKey) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("tokens: no signing key configured")
	}
	r := &Keyring{}
	seen := map[string]bool{}
	for i, priv := range keys {
		if len(priv) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("tokens: key %d is not an Ed25519 private key", i+1)
		}
		pub := priv.Public().(ed25519.PublicKey)
		k := signingKey{kid: Thumbprint(pub), priv: priv, pub: pub}
		if seen[k.kid] {
			return nil, fmt.Errorf("tokens: key %d repeats an earlier key", i+1)
		}
		seen[k.kid] = true
		r.keys = append(r.keys, k)
	}
	r.signer = r.keys[len(r.keys)-1]
	r.jwks = r.buildJWKS()
	return r, nil
}

// readKey reads one PKCS#8 PEM Ed25519 private key.
func readKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens: open signing key: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("tokens: read signing key %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("tokens: signing key file %s is larger than %d bytes", path, maxKeyFileSize)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("tokens: %s holds no PEM \"PRIVATE KEY\" block (PKCS#8)", path)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fmt.Errorf("tokens: %s holds more than one PEM block", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("tokens: %s is not a PKCS#8 private key", path)
	}
	priv, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("tokens: %s holds a %T, not an Ed25519 key", path, parsed)
	}
	return priv, nil
}

// SigningKeyID returns the kid of the key that signs new tokens, for logs.
func (r *Keyring) SigningKeyID() string { return r.signer.kid }

// KeyIDs returns the kids of every configured key, oldest first.
func (r *Keyring) KeyIDs() []string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.kid
	}
	return ids
}

// verifier returns the public key whose kid is kid, if it is configured.
func (r *Keyring) verifier(kid string) (ed25519.PublicKey, bool) {
	for _, k := range r.keys {
		if k.kid == kid {
			return k.pub, true
		}
	}
	return nil, false
}

// jwk is one public key of a JWKS (RFC 7517, RFC 8037).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS returns the JSON Web Key Set of every configured public key, oldest
// first: {"keys":[{"kty":"OKP","crv":"Ed25519","x":...,"kid":...,"alg":"EdDSA","use":"sig"}]},
// served at /.well-known/jwks.json. The caller must not modify the slice.
func (r *Keyring) JWKS() []byte { return r.jwks }

func (r *Keyring) buildJWKS() []byte {
	set := struct {
		Keys []jwk `json:"keys"`
	}{}
	for _, k := range r.keys {
		set.Keys = append(set.Keys, jwk{
			Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.pub),
			Kid: k.kid, Alg: "EdDSA", Use: "sig",
		})
	}
	b, _ := json.Marshal(set) // plain strings: cannot fail
	return b
}

// Thumbprint returns the RFC 7638 JWK thumbprint of an Ed25519 public key:
// base64url (unpadded) of the SHA-256 of {"crv":"Ed25519","kty":"OKP","x":"<x>"}.
// It is the key's kid.
func Thumbprint(pub ed25519.PublicKey) string {
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// EnsureDevKey returns the path of the development signing key in dataDir,
// <dataDir>/signing-key.pem, generating a new Ed25519 key there (file mode
// 0600, the directory created with 0700) when none exists; created says
// whether it did. The file appears whole or not at all, and two processes
// starting at once end up with the same key. Production deployments configure
// their keys instead; the caller decides whether a generated key is allowed
// and logs a warning when created is true.
func EnsureDevKey(dataDir string) (path string, created bool, err error) {
	path = filepath.Join(dataDir, DevKeyFile)
	if _, err := os.Stat(path); err == nil {
		return path, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("tokens: look for the development key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", false, fmt.Errorf("tokens: create data directory: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", false, fmt.Errorf("tokens: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", false, fmt.Errorf("tokens: encode key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})

	// Write a temporary file (CreateTemp uses mode 0600), then link it into
	// place: the link fails if another process got there first.
	tmp, err := os.CreateTemp(dataDir, ".signing-key-*.tmp")
	if err != nil {
		return "", false, fmt.Errorf("tokens: write development key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", false, fmt.Errorf("tokens: write development key: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", false, fmt.Errorf("tokens: write development key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", false, fmt.Errorf("tokens: write development key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", false, fmt.Errorf("tokens: write development key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return path, false, nil
		}
		return "", false, fmt.Errorf("tokens: write development key: %w", err)
	}
	return path, true, nil
}
