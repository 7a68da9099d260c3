package provision

import "context"

// UnitLogTail returns the last log lines of node's nats-server unit, ready
// to append to an error ("\n  last log lines of ...:"), or "" when there are
// none or the host cannot be reached. A node that does not come back says
// why only in its own log (a store it cannot write, a port taken): callers
// add this to the error that names the node.
func (s *Session) UnitLogTail(ctx context.Context, node string) string {
	c, err := s.Client(ctx, node)
	if err != nil {
		return ""
	}
	return journalTail(ctx, c, s.Inv.NATS.Service+".service", s.Secrets)
}
