// Package eventrelay delivers the events that the bounded contexts record
// in the transactional outbox (ports.Events): at least once, in order per
// subject (user), to in-process subscribers and to a broker
// (ports.Publisher), and later deletes the delivered ones. It belongs to
// the platform, not to a context: it depends on the platform's ports only,
// and knows nothing of what the events mean.
package eventrelay
