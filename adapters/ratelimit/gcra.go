package ratelimit

import (
	"time"

	"example.com/usersvc/ports"
)

// emission is the GCRA emission interval of l (Window/Events, at least one
// unit of d) and burst its tolerance, Events*interval. A key is allowed an
// event when its next theoretical arrival time is at most burst ahead of now.
// Comparing against Events*interval rather than Window keeps "N events at
// one instant are allowed, the N+1st is not" exact whatever the rounding of
// the division. A limit finer than one event per unit (more than a million
// events a second in Redis's microseconds) is held at one per unit. l must
// not be Off.
func emission(l ports.Limit, unit time.Duration) (interval, burst int64) {
	interval = int64(l.Window/unit) / int64(l.Events)
	if interval < 1 {
		interval = 1
	}
	return interval, interval * int64(l.Events)
}

// retryAfter rounds a positive wait up to a whole second, at least one.
func retryAfter(wait time.Duration) time.Duration {
	if wait <= time.Second {
		return time.Second
	}
	return (wait + time.Second - 1).Truncate(time.Second)
}
