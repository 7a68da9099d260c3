package provision

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/dcctl/dcctl/jetstream"
)

// The monitoring endpoints (/healthz, /jsz, /leafz) need no credentials:
// checks that read them keep working while a run changes passwords.

// monitor GETs path from node's monitoring endpoint, through the SSH
// connection to its host (or straight with Direct), and returns the body of
// a 200 answer.
func (s *Session) monitor(ctx context.Context, node, path string) ([]byte, error) {
	n := s.Inv.Node(node)
	if n == nil {
		return nil, fmt.Errorf("%s %s: not in the inventory", node, path)
	}
	base := s.monitorBase(n)
	client := s.monitorClient(n, base)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", node, path, err)
	}
	defer resp.Body.Close()
	body, err := readCapped(resp.Body, maxMonitorBody)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", node, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s answered %d", node, path, resp.StatusCode)
	}
	return body, nil
}

// maxMonitorBody bounds what dcctl reads of one monitoring answer. /jsz
// with every stream of a large deployment runs to megabytes; a server
// answering without end must not exhaust dcctl's memory.
const maxMonitorBody = 64 << 20

// readCapped reads r to its end, and fails rather than truncate when r holds
// more than max bytes: a cut JSON answer would fail later, in a parser,
// with a message that names neither the cause nor the limit.
func readCapped(r io.Reader, max int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("answer larger than %d MB, more than dcctl reads", max>>20)
	}
	return body, nil
}

// WaitMetaCurrent polls until node is a current member of its domain's meta
// group as the group's leader sees it, or ctx ends. The nodes of a domain
// waiting at once share their reads of the domain's endpoints.
func (s *Session) WaitMetaCurrent(ctx context.Context, node string) error {
	n := s.Inv.Node(node)
	if n == nil {
		return fmt.Errorf("%s: not in the inventory", node)
	}
	domain := s.Inv.Domain(n)
	mon := s.Monitor()
	mon.Get = s.sharedMonitor(nodePoll / 2)
	if err := jetstream.Poll(ctx, nodePoll, func() error { return mon.MetaPeerCurrent(ctx, domain, node) }); err != nil {
		return fmt.Errorf("%s is not a current meta peer of domain %s: %w", node, domain, err)
	}
	return nil
}
