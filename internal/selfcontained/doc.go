// Package selfcontained holds the test that keeps the repository
// self-contained: no tracked file (code, comment, template, rendered golden
// config, doc) cites a document that lives outside the repository. What the
// code relies on is written down in docs/ (docs/nats-facts.md for NATS's
// behaviour), where the next maintainer can read it.
package selfcontained
