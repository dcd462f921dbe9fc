package tokens

// VerifiedCacheLen reports how many tokens iss remembers; only tests see it.
func VerifiedCacheLen(iss *Issuer) int { return iss.verified.len() }
