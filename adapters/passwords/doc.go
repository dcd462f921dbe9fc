// Package passwords is the adapter for the userports.PasswordHasher port: argon2id
// hashing in the PHC string format, verification of argon2id and legacy bcrypt
// hashes, a bound on how many hashes run at once, and the helpers the password
// policy needs (IsCommon, NormalizeNFKC).
//
// It may import domain packages, ports, the standard library,
// golang.org/x/crypto, golang.org/x/text and the common-password list of
// github.com/trustelem/zxcvbn; never application, bootstrap or another
// adapter. Metrics attach through Observer, so it does not import Prometheus.
//
// No error of this package contains a password or a hash.
package passwords
