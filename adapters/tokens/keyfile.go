package tokens

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrKeyFileExists means GenerateKeyFile was asked not to overwrite a file
// that exists.
var ErrKeyFileExists = errors.New("tokens: key file already exists")

// GenerateKeyFile writes a new Ed25519 signing key to path in the format
// LoadKeys reads (one "PRIVATE KEY" PEM block, PKCS#8), with file mode 0600,
// and returns its kid (Thumbprint). The file appears whole or not at all: a
// temporary file in the same directory is linked into place, or, with
// overwrite, renamed over it. Without overwrite an existing path fails with
// ErrKeyFileExists and is left alone. The key itself is never returned or
// printed.
func GenerateKeyFile(path string, overwrite bool) (kid string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("tokens: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("tokens: encode key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	tmp, err := os.CreateTemp(filepath.Dir(path), ".signing-key-*.tmp") // mode 0600
	if err != nil {
		return "", fmt.Errorf("tokens: write key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	werr := tmp.Chmod(0o600)
	if werr == nil {
		_, werr = tmp.Write(data)
	}
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", fmt.Errorf("tokens: write key file: %w", werr)
	}
	if overwrite {
		err = os.Rename(tmp.Name(), path)
	} else {
		err = os.Link(tmp.Name(), path)
	}
	if errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("%w: %s", ErrKeyFileExists, path)
	}
	if err != nil {
		return "", fmt.Errorf("tokens: write key file: %w", err)
	}
	return Thumbprint(pub), nil
}
