package inventory

// NodeTLS is what one node needs on its host for TLS: the CA certificate it
// trusts, its own certificate and its private key (all PEM).
type NodeTLS struct {
	CA, Cert, Key []byte
}

// SetTLS gives the secrets the deployment's TLS material: the CA
// certificate dcctl verifies servers with, and each node's files. The pki
// package reads and creates them; the secrets only carry them, so that
// everything that renders configs or connects to NATS finds them in one
// place. The private keys are never part of Values: they are whole files,
// never shown, not strings to redact.
func (s *Secrets) SetTLS(ca []byte, nodes map[string]NodeTLS) {
	s.tlsCA = ca
	s.tlsNodes = nodes
	s.version++
}

// TLSCA is the CA certificate (PEM) servers present certificates from;
// nil when none was set.
func (s *Secrets) TLSCA() []byte {
	if s == nil {
		return nil
	}
	return s.tlsCA
}

// NodeTLS returns node's TLS files, if set.
func (s *Secrets) NodeTLS(node string) (NodeTLS, bool) {
	if s == nil {
		return NodeTLS{}, false
	}
	t, ok := s.tlsNodes[node]
	return t, ok
}
