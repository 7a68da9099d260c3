package jetstream

import (
	"context"
	"encoding/json"
	"fmt"
)

// Health is a server's own verdict on itself, the answer of its /healthz:
// Code 200 when it serves every JetStream asset it holds, 503 (with Error,
// such as `JetStream can not lookup account "x": account missing`) when it
// does not. A server can answer every other request while it says 503.
type Health struct {
	Code  int    `json:"code"`
	Error string `json:"error,omitempty"`
}

// OK reports whether the server called itself healthy.
func (h Health) OK() bool { return h.Code == 200 }

type healthzData struct {
	Status     string `json:"status"`
	StatusCode int    `json:"status_code,omitempty"`
	Error      string `json:"error,omitempty"`
}

// Healthz asks every reachable server for its /healthz verdict in one
// request ($SYS.REQ.SERVER.PING.HEALTHZ, the same check as the monitoring
// port's /healthz), keyed by server name. A server that does not answer in
// time is absent.
func (c *Conn) Healthz(ctx context.Context) (map[string]Health, error) {
	replies, err := c.gather(ctx, "$SYS.REQ.SERVER.PING.HEALTHZ", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("ask servers for /healthz: %w", err)
	}
	out := make(map[string]Health, len(replies))
	for _, r := range replies {
		if r.Error != nil {
			out[r.Server.Name] = Health{Code: r.Error.Code, Error: r.Error.Description}
			continue
		}
		var h healthzData
		if err := json.Unmarshal(r.Data, &h); err != nil {
			return nil, fmt.Errorf("decode /healthz of %s: %w", r.Server.Name, err)
		}
		code := h.StatusCode
		if code == 0 {
			// nats-server leaves status_code out of an "ok" answer.
			code = 200
			if h.Status != "ok" {
				code = 503
			}
		}
		out[r.Server.Name] = Health{Code: code, Error: h.Error}
	}
	return out, nil
}
