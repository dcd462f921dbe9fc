package tokenverify_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"example.com/usersvc/adapters/tokenverify"
)

// Protecting a route of another service; with Revocations, a logout on the
// user service is refused here as soon as its event arrives.
func ExampleVerifier_Middleware() {
	v, err := tokenverify.New(context.Background(), tokenverify.Config{
		JWKSURL:        "https://users.internal/.well-known/jwks.json",
		AccessTokenTTL: 15 * time.Minute, // the service's ACCESS_TOKEN_TTL
		Revocations:    &tokenverify.Revocations{NATSURL: "nats://nats.internal:4222"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	mux := http.NewServeMux()
	mux.Handle("GET /rooms", v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := tokenverify.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "rooms of %s (session %s)", p.UserID, p.SessionID)
	})))
	log.Fatal(http.ListenAndServe(":8081", mux))
}
