package bootstrap_test

import (
	"errors"
	"testing"

	"example.com/usersvc/bootstrap"
)

func TestMemoryLimitCoversTheHashesTwice(t *testing.T) {
	cfg := bootstrap.Defaults()
	cfg.HashMaxConcurrent, cfg.Argon2MemoryKiB = 2, 19456
	if got, want := cfg.MemoryLimit(), int64(64+2*2*19)<<20; got != want {
		t.Errorf("MemoryLimit() = %d MiB, want %d MiB (64 + 2 × 2 hashes × 19 MiB)", got>>20, want>>20)
	}
	cfg.MemoryLimitMiB = 512
	if got := cfg.MemoryLimit(); got != 512<<20 {
		t.Errorf("MemoryLimit() with MEMORY_LIMIT_MIB=512 = %d MiB", got>>20)
	}
}

func TestGCSettings(t *testing.T) {
	if cfg := bootstrap.Defaults(); cfg.GCPercent != 400 || cfg.MemoryLimitMiB != 0 {
		t.Errorf("defaults GC_PERCENT %d, MEMORY_LIMIT_MIB %d; want 400 and 0", cfg.GCPercent, cfg.MemoryLimitMiB)
	}
	for _, bad := range []struct{ name, value string }{{"GC_PERCENT", "10"}, {"GC_PERCENT", "off"}, {"MEMORY_LIMIT_MIB", "-1"}} {
		_, err := bootstrap.Load(func(k string) (string, bool) {
			if k == bad.name {
				return bad.value, true
			}
			return "", false
		})
		var ce *bootstrap.ConfigError
		if !errors.As(err, &ce) || ce.Name != bad.name {
			t.Errorf("%s=%s: err = %v, want a ConfigError naming it", bad.name, bad.value, err)
		}
	}
}
