package main

import (
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	r := report{Requests: 100, StatusCodes: map[string]int64{"202": 90, "429": 8, "0": 2}}
	r.Latencies.P95 = 300 * time.Millisecond
	v := judge(r, 250*time.Millisecond, 0.01, 0.05)
	if v.ErrorRate != 0.02 || v.ThrottledRate != 0.08 || len(v.Breaches) != 3 {
		t.Errorf("judge = %+v, want error 0.02, 429 0.08 and three breaches", v)
	}
	if v := judge(r, 0, 0.05, 0.1); len(v.Breaches) != 0 {
		t.Errorf("looser marks: %v", v.Breaches)
	}
	if v := judge(report{}, 0, 1, 1); len(v.Breaches) != 1 {
		t.Error("an empty report passed")
	}
}
