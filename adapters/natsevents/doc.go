// Package natsevents publishes the service's events to NATS JetStream
// (ports.Publisher): stream USERSVC_EVENTS, subject usersvc.events.<type>,
// header Nats-Msg-Id set to the event id so the stream drops a duplicate
// within its window, body a CloudEvents 1.0 JSON document.
package natsevents
