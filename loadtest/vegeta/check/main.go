// Command check applies thresholds to a vegeta JSON report (vegeta report
// -type=json), as k6's thresholds do, and exits 1 when one is crossed:
//
//	go run ./loadtest/vegeta/check -p95 250ms -max-error-rate 0.01 -max-429-rate 0.05 < report.json
//
// 202 is success, 429 is the push API's backpressure (counted apart), and
// anything else, timeouts and connection errors included (status 0), is an
// error.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// report is the part of vegeta's JSON report the thresholds read.
type report struct {
	Requests  int64 `json:"requests"`
	Latencies struct {
		P50 time.Duration `json:"50th"`
		P95 time.Duration `json:"95th"`
		P99 time.Duration `json:"99th"`
		Max time.Duration `json:"max"`
	} `json:"latencies"`
	Throughput  float64          `json:"throughput"`
	StatusCodes map[string]int64 `json:"status_codes"`
	Errors      []string         `json:"errors"`
}

type verdict struct {
	ErrorRate, ThrottledRate float64
	Breaches                 []string
}

func judge(r report, p95 time.Duration, maxErr, max429 float64) verdict {
	var v verdict
	if r.Requests == 0 {
		v.Breaches = append(v.Breaches, "no requests")
		return v
	}
	n := float64(r.Requests)
	ok, throttled := float64(r.StatusCodes["202"]), float64(r.StatusCodes["429"])
	v.ErrorRate = (n - ok - throttled) / n
	v.ThrottledRate = throttled / n
	if v.ErrorRate > maxErr {
		v.Breaches = append(v.Breaches, fmt.Sprintf("error rate %.4f > %.4f", v.ErrorRate, maxErr))
	}
	if v.ThrottledRate > max429 {
		v.Breaches = append(v.Breaches, fmt.Sprintf("429 rate %.4f > %.4f", v.ThrottledRate, max429))
	}
	if p95 > 0 && r.Latencies.P95 > p95 {
		v.Breaches = append(v.Breaches, fmt.Sprintf("p95 %s > %s", r.Latencies.P95, p95))
	}
	return v
}

func main() {
	p95 := flag.Duration("p95", 250*time.Millisecond, "highest p95 latency allowed (0: no threshold)")
	maxErr := flag.Float64("max-error-rate", 0.01, "highest share of answers other than 202 and 429")
	max429 := flag.Float64("max-429-rate", 0.05, "highest share of 429")
	flag.Parse()
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(2)
	}
	var r report
	if err := json.Unmarshal(raw, &r); err != nil {
		fmt.Fprintln(os.Stderr, "check: not a vegeta JSON report:", err)
		os.Exit(2)
	}
	v := judge(r, *p95, *maxErr, *max429)
	fmt.Printf("requests %d, %.1f/s accepted; p50 %s p95 %s p99 %s max %s; status %v; error rate %.4f, 429 rate %.4f\n",
		r.Requests, r.Throughput, r.Latencies.P50, r.Latencies.P95, r.Latencies.P99, r.Latencies.Max, r.StatusCodes, v.ErrorRate, v.ThrottledRate)
	if len(v.Breaches) > 0 {
		for _, b := range v.Breaches {
			fmt.Println("THRESHOLD CROSSED:", b)
		}
		os.Exit(1)
	}
	fmt.Println("thresholds passed")
}
