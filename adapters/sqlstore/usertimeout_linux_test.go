package sqlstore

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/sys/unix"

	"example.com/usersvc/adapters/sqlstore/sqltest"
)

// TestPostgresConnectionsDetectADeadPeer reads the socket options of a real
// pooled connection: keepalive probes after keepAliveIdle, every
// keepAliveInterval, keepAliveCount of them, and TCP_USER_TIMEOUT, so the
// kernel drops a connection to a peer that stopped answering and the pool
// does not hand it out again.
func TestPostgresConnectionsDetectADeadPeer(t *testing.T) {
	t.Parallel()
	db, _, err := Open(t.Context(), Options{DatabaseURL: sqltest.PostgresURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	t.Cleanup(func() { _ = sqlDB.Close() })
	c, err := sqlDB.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := map[string]int{}
	err = c.Raw(func(driverConn any) error {
		tcp, ok := driverConn.(*stdlib.Conn).Conn().PgConn().Conn().(*net.TCPConn)
		if !ok {
			return errors.New("the connection is not TCP")
		}
		raw, err := tcp.SyscallConn()
		if err != nil {
			return err
		}
		return raw.Control(func(fd uintptr) {
			for name, opt := range map[string][2]int{
				"SO_KEEPALIVE":     {unix.SOL_SOCKET, unix.SO_KEEPALIVE},
				"TCP_KEEPIDLE":     {unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
				"TCP_KEEPINTVL":    {unix.IPPROTO_TCP, unix.TCP_KEEPINTVL},
				"TCP_KEEPCNT":      {unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
				"TCP_USER_TIMEOUT": {unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT},
			} {
				v, err := unix.GetsockoptInt(int(fd), opt[0], opt[1])
				if err != nil {
					t.Errorf("%s: %v", name, err)
				}
				got[name] = v
			}
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"SO_KEEPALIVE":     1,
		"TCP_KEEPIDLE":     int(keepAliveIdle / time.Second),
		"TCP_KEEPINTVL":    int(keepAliveInterval / time.Second),
		"TCP_KEEPCNT":      keepAliveCount,
		"TCP_USER_TIMEOUT": int(userTimeout / time.Millisecond),
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s = %d, want %d", name, got[name], w)
		}
	}
}
