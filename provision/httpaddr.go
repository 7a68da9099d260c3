package provision

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"strings"

	"github.com/dcctl/dcctl/inventory"
)

// A change of a node's monitoring port (http_port) takes effect only when
// the node restarts: until then its server answers on the old port, and the
// health gates, which read every node of the cluster there, must look for
// it where it is. Apply records the old port of each node whose config
// changes it and forgets it once the node has restarted.

// httpAddr is where node's monitoring endpoint answers now.
func (s *Session) httpAddr(n *inventory.Node) string {
	s.mu.Lock()
	port := s.httpPorts[n.Name]
	s.mu.Unlock()
	if port == 0 {
		return n.HTTPAddr()
	}
	return net.JoinHostPort(n.Addr(), strconv.Itoa(port))
}

// servesHTTPAt records that node's running server answers on port, not on
// the inventory's; 0 forgets it.
func (s *Session) servesHTTPAt(node string, port int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.httpPorts == nil {
		s.httpPorts = map[string]int{}
	}
	if port == 0 {
		delete(s.httpPorts, node)
		return
	}
	s.httpPorts[node] = port
}

// httpPort reads the monitoring port of a rendered config (its `http:`
// line); 0 when there is none.
func httpPort(config []byte) int {
	sc := bufio.NewScanner(bytes.NewReader(config))
	for sc.Scan() {
		v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "http:")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		_, p, err := net.SplitHostPort(v)
		if err != nil {
			return 0
		}
		port, _ := strconv.Atoi(p)
		return port
	}
	return 0
}
