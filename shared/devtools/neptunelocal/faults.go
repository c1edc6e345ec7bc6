package neptunelocal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Faults make the stand-in misbehave the way Neptune does under load, conflict
// or failover. Rates are fractions of requests in [0, 1], drawn independently
// per request. The zero value injects nothing.
type Faults struct {
	// Latency is added to every request while it holds a worker, like query
	// time on a busy instance.
	Latency time.Duration
	// LatencyJitter adds a uniformly random extra delay in [0, LatencyJitter).
	LatencyJitter time.Duration
	// ConcurrentModificationRate fails that fraction of requests with
	// Neptune's ConcurrentModificationException, before anything is written.
	ConcurrentModificationRate float64
	// ThrottleRate fails that fraction of requests with Neptune's
	// ThrottlingException, before anything is written.
	ThrottleRate float64
	// DropRate closes the connection, with no response and no close frame, on
	// that fraction of requests, after the request has been applied: the
	// client cannot tell whether its write happened, which is the case a
	// writer's retries must survive.
	DropRate float64
	// RefuseConnections answers new WebSocket handshakes with HTTP 429, as
	// Neptune does at its per-instance connection limit. Open connections
	// keep working.
	RefuseConnections bool
	// FailWith answers that fraction (FailRate) of writes with the Neptune
	// error code FailWith (one of ErrorCodes), in Neptune's error document
	// and with the status that code travels with, before anything is
	// written. Reads are answered normally, as when an IAM policy allows
	// neptune-db:ReadDataViaQuery but not WriteDataViaQuery: a client's
	// health probe still succeeds while its writes fail.
	FailWith string
	FailRate float64
	// Demote, when set through SetFaults (or "demote": true in a PUT to
	// /faults), demotes every connection open at that moment, as
	// Server.Demote does. It is an action, not a setting: it is not kept,
	// and Faults() never reports it.
	Demote bool
}

func (f Faults) validate() error {
	var errs []error
	for name, r := range map[string]float64{
		"ConcurrentModificationRate": f.ConcurrentModificationRate,
		"ThrottleRate":               f.ThrottleRate,
		"DropRate":                   f.DropRate,
		"FailRate":                   f.FailRate,
	} {
		if !(r >= 0 && r <= 1) {
			errs = append(errs, fmt.Errorf("neptunelocal: faults: %s is %v, want a fraction in [0, 1]", name, r))
		}
	}
	if f.FailRate > 0 && ErrorStatus(f.FailWith) == 0 {
		errs = append(errs, fmt.Errorf("neptunelocal: faults: FailWith %q is not a Neptune error code (one of %v)", f.FailWith, ErrorCodes()))
	}
	if f.Latency < 0 || f.LatencyJitter < 0 {
		errs = append(errs, errors.New("neptunelocal: faults: latencies cannot be negative"))
	}
	return errors.Join(errs...)
}

// faultsJSON is Faults with durations as Go duration strings ("10ms"), so
// people can PUT {"latency":"10ms"} to /faults.
type faultsJSON struct {
	Latency                    string  `json:"latency,omitempty"`
	LatencyJitter              string  `json:"latency_jitter,omitempty"`
	ConcurrentModificationRate float64 `json:"concurrent_modification_rate,omitempty"`
	ThrottleRate               float64 `json:"throttle_rate,omitempty"`
	DropRate                   float64 `json:"drop_rate,omitempty"`
	RefuseConnections          bool    `json:"refuse_connections,omitempty"`
	FailWith                   string  `json:"fail_with,omitempty"`
	FailRate                   float64 `json:"fail_rate,omitempty"`
	Demote                     bool    `json:"demote,omitempty"`
}

// MarshalJSON writes durations as strings such as "10ms".
func (f Faults) MarshalJSON() ([]byte, error) {
	j := faultsJSON{
		ConcurrentModificationRate: f.ConcurrentModificationRate,
		ThrottleRate:               f.ThrottleRate,
		DropRate:                   f.DropRate,
		RefuseConnections:          f.RefuseConnections,
		FailWith:                   f.FailWith,
		FailRate:                   f.FailRate,
		Demote:                     f.Demote,
	}
	if f.Latency != 0 {
		j.Latency = f.Latency.String()
	}
	if f.LatencyJitter != 0 {
		j.LatencyJitter = f.LatencyJitter.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes; unknown fields are an error so
// a typo does not silently inject nothing.
func (f *Faults) UnmarshalJSON(b []byte) error {
	var j faultsJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	out := Faults{
		ConcurrentModificationRate: j.ConcurrentModificationRate,
		ThrottleRate:               j.ThrottleRate,
		DropRate:                   j.DropRate,
		RefuseConnections:          j.RefuseConnections,
		FailWith:                   j.FailWith,
		FailRate:                   j.FailRate,
		Demote:                     j.Demote,
	}
	var err error
	if j.Latency != "" {
		if out.Latency, err = time.ParseDuration(j.Latency); err != nil {
			return fmt.Errorf("latency: %w", err)
		}
	}
	if j.LatencyJitter != "" {
		if out.LatencyJitter, err = time.ParseDuration(j.LatencyJitter); err != nil {
			return fmt.Errorf("latency_jitter: %w", err)
		}
	}
	*f = out
	return nil
}
