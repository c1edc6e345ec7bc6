package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// sample is one progress tick of a drain.
type sample struct {
	T         float64 `json:"t_s"` // seconds since the drain started
	Edges     int     `json:"edges"`
	EdgesPerS float64 `json:"edges_per_s"`
	Depth     int     `json:"depth"` // visible + in flight, as last sampled
	Limits    []int   `json:"writer_limits"`
	Committed int64   `json:"neptune_requests"`
}

// workerUsage is what one worker process used.
type workerUsage struct {
	PID     int           `json:"pid"`
	CPU     time.Duration `json:"cpu_ns"`
	PeakRSS int64         `json:"peak_rss_bytes"`
}

// drainRun is everything measured for graphfleet's side of a run.
type drainRun struct {
	Workload string        `json:"workload"`
	Edges    int           `json:"edges"`
	Vertices int           `json:"vertices"`
	Messages int           `json:"messages"`
	Drain    time.Duration `json:"drain_ns"`
	Requests int64         `json:"neptune_requests"`
	// DataRequests is what the writer's chunking gives for the batches
	// (neptune.RequestsFor); Requests also counts retries and the workers'
	// own reads.
	DataRequests int   `json:"neptune_data_requests"`
	Records      int64 `json:"neptune_records"`
	Errors       int64 `json:"neptune_errors"`
	Throttled    int64 `json:"neptune_throttled"`
	MaxInFl      int64 `json:"neptune_max_in_flight"`
	// Lags are per message, from SendMessageBatch accepted to its sentinel
	// edges in the graph.
	Lags    []time.Duration `json:"lags_ns"`
	Workers []workerUsage   `json:"workers"`
	// CPU of the other processes during the drain.
	HarnessCPU time.Duration `json:"harness_cpu_ns"` // the stand-in (in-process), the probes
	SQSCPU     time.Duration `json:"sqs_cpu_ns"`     // the SQS emulator
	SQSKnown   bool          `json:"sqs_cpu_known"`
	// MachineBusy is the share of the whole machine's CPU that was busy
	// during the drain (/proc/stat), whoever used it: other people's
	// processes on a shared machine take CPU the run could not have.
	MachineBusy float64  `json:"machine_busy"`
	Samples     []sample `json:"samples"`
	DLQ         int      `json:"dlq_messages"`
	Left        int      `json:"left_in_queue"`

	// The setting, for the verdict and the report.
	Cores          int           `json:"cores"`
	Latency        time.Duration `json:"standin_latency_ns"`
	StandinWorkers int           `json:"standin_workers"`
	WorkerCount    int           `json:"worker_processes"`
	WriterLimit    string        `json:"writer_limits"`
	Live           bool          `json:"live"`
	RSSLimit       int64         `json:"rss_limit_bytes"`
}

func (d drainRun) EdgesPerSecond() float64 { return rate(d.Edges, d.Drain) }

func (d drainRun) RecordsPerRequest() float64 {
	if d.Requests == 0 {
		return 0
	}
	return float64(d.Records) / float64(d.Requests)
}

func (d drainRun) WorkerCPU() time.Duration {
	var t time.Duration
	for _, w := range d.Workers {
		t += w.CPU
	}
	return t
}

// CPUPerEdge is the workers' CPU per edge.
func (d drainRun) CPUPerEdge() time.Duration {
	if d.Edges == 0 {
		return 0
	}
	return d.WorkerCPU() / time.Duration(d.Edges)
}

// RSSOver lists the workers whose peak RSS passed the limit.
func (d drainRun) RSSOver() []workerUsage {
	var out []workerUsage
	for _, w := range d.Workers {
		if d.RSSLimit > 0 && w.PeakRSS >= d.RSSLimit {
			out = append(out, w)
		}
	}
	return out
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// percentile is the nearest-rank percentile (p in (0, 100]) of xs; 0 for
// none. xs is not modified.
func percentile(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// limiter is what the run says limited the drain rate, and why.
type limiter struct {
	Verdict string
	// NeptuneBusy is the share of the stand-in's query slots held by
	// requests (Little's law: requests x latency over slots x time; a lower
	// bound, since it leaves out execution time).
	NeptuneBusy float64
	// CPUBusy is the machine's CPU used by every process of the run over
	// what its cores offer in that time; Shares split it by process.
	CPUBusy                             float64
	WorkerShare, HarnessShare, SQSShare float64
}

// limitedBy reasons from the measurements.
func limitedBy(d drainRun) limiter {
	var l limiter
	secs := d.Drain.Seconds()
	if secs <= 0 {
		return limiter{Verdict: "no drain time measured"}
	}
	if d.StandinWorkers > 0 {
		l.NeptuneBusy = float64(d.Requests) * d.Latency.Seconds() / (float64(d.StandinWorkers) * secs)
	}
	total := d.WorkerCPU() + d.HarnessCPU + d.SQSCPU
	if d.Cores > 0 {
		l.CPUBusy = total.Seconds() / (float64(d.Cores) * secs)
	}
	if total > 0 {
		l.WorkerShare = d.WorkerCPU().Seconds() / total.Seconds()
		l.HarnessShare = d.HarnessCPU.Seconds() / total.Seconds()
		l.SQSShare = d.SQSCPU.Seconds() / total.Seconds()
	}
	biggest := "the worker processes"
	switch {
	case l.HarnessShare > l.WorkerShare && l.HarnessShare > l.SQSShare:
		biggest = "the Neptune stand-in (harness process)"
	case l.SQSShare > l.WorkerShare && l.SQSShare > l.HarnessShare:
		biggest = "the SQS emulator"
	}
	switch {
	case l.NeptuneBusy >= 0.8:
		l.Verdict = fmt.Sprintf("Neptune's capacity: its %d query slots were held %.0f%% of the drain by injected latency alone", d.StandinWorkers, 100*l.NeptuneBusy)
	case l.CPUBusy >= 0.8 || d.MachineBusy >= 0.9:
		l.Verdict = fmt.Sprintf("CPU: the run used %.0f%% of the machine's %d cores (the machine was %.0f%% busy, other processes included), %.0f%% of the run's CPU in %s; the stand-in's slots were held only %.0f%% of the time",
			100*l.CPUBusy, d.Cores, 100*d.MachineBusy, 100*max(l.WorkerShare, l.HarnessShare, l.SQSShare), biggest, 100*l.NeptuneBusy)
	default:
		l.Verdict = fmt.Sprintf("neither CPU (the run used %.0f%% of %d cores, the machine was %.0f%% busy) nor Neptune (slots held %.0f%%): waiting dominates: SQS receives and deletes (the emulator's short poll takes about 40 ms) and the message round trip per batch",
			100*l.CPUBusy, d.Cores, 100*d.MachineBusy, 100*l.NeptuneBusy)
	}
	return l
}

// comparison is the side-by-side table of one run.
type comparison struct {
	Ours  drainRun
	Seeds []seedResult
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	case d >= 100*time.Second:
		return fmt.Sprintf("%.0f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
	}
}

func fmtBytes(n int64) string { return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20)) }

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	r := a / b
	if r >= 10 {
		return fmt.Sprintf("%.0fx", r)
	}
	return fmt.Sprintf("%.1fx", r)
}

// markdown renders the run's summary.
func (c comparison) markdown(title, command, machine string) string {
	d := c.Ours
	var sb strings.Builder
	fmt.Fprintf(&sb, "# Drain: %s\n\n", title)
	fmt.Fprintf(&sb, "Command: `%s`\n\nMachine: %s\n\n", command, machine)
	slots := fmt.Sprintf("%d query slots", d.StandinWorkers)
	if d.StandinWorkers == 0 {
		slots = "query slots unknown (a stand-in started elsewhere)"
	}
	fmt.Fprintf(&sb, "Workload: %d edges, %d vertices, %d messages. Stand-in: %s latency per request, %s. graphfleet: %d worker process(es), %s; %s.\n\n",
		d.Edges, d.Vertices, d.Messages, d.Latency, slots, d.WorkerCount, d.WriterLimit, map[bool]string{true: "workers running before the batches were sent (live)", false: "backlog loaded into SQS before the workers started"}[d.Live])

	sb.WriteString("| | graphfleet |")
	for _, s := range c.Seeds {
		fmt.Fprintf(&sb, " %s |", s.Variant)
	}
	sb.WriteString("\n|---|---|")
	for range c.Seeds {
		sb.WriteString("---|")
	}
	row := func(name, ours string, f func(s seedResult) string) {
		fmt.Fprintf(&sb, "\n| %s | %s |", name, ours)
		for _, s := range c.Seeds {
			fmt.Fprintf(&sb, " %s |", f(s))
		}
	}
	row("Neptune requests", fmt.Sprint(d.Requests), func(s seedResult) string {
		if s.Capped {
			return fmt.Sprintf("%d (model; %d sent in the measured part, stand-in counted %d)", s.Plan.Requests(), s.RequestsSent, s.StandinRequests)
		}
		return fmt.Sprintf("%d (stand-in counted %d)", s.Plan.Requests(), s.StandinRequests)
	})
	row("requests per edge", fmt.Sprintf("%.4f", float64(d.Requests)/float64(max(d.Edges, 1))), func(s seedResult) string {
		return fmt.Sprintf("%.2f", float64(s.Plan.Requests())/float64(max(s.Plan.Edges, 1)))
	})
	row("time to write", fmtDur(d.Drain), func(s seedResult) string {
		if s.Capped {
			return fmt.Sprintf("**%s extrapolated** (measured %d edges + %d services in %s)", fmtDur(s.Total), s.EdgesDone, s.ServicesDone, fmtDur(s.EdgeTime+s.ServiceTime))
		}
		return fmtDur(s.Total) + " measured"
	})
	row("edges/s", fmt.Sprintf("%.0f", d.EdgesPerSecond()), func(s seedResult) string {
		return fmt.Sprintf("%.1f", rate(s.Plan.Edges, s.Total))
	})
	row("graphfleet is faster by", "", func(s seedResult) string { return ratio(s.Total.Seconds(), d.Drain.Seconds()) })
	row("graphfleet sends fewer requests by", "", func(s seedResult) string {
		return ratio(float64(s.Plan.Requests()), float64(d.Requests))
	})
	sb.WriteString("\n\n")

	l := limitedBy(d)
	fmt.Fprintf(&sb, "## graphfleet's drain\n\n")
	fmt.Fprintf(&sb, "- drain time %s, %.0f edges/s; Neptune requests %d (%d by the writer's chunking of the batches; the rest are retries and the workers' own reads), %.0f records per request, %d errors (%d throttled), at most %d in flight\n",
		fmtDur(d.Drain), d.EdgesPerSecond(), d.Requests, d.DataRequests, d.RecordsPerRequest(), d.Errors, d.Throttled, d.MaxInFl)
	fmt.Fprintf(&sb, "- lag per message (SendMessageBatch accepted to its first and last edge in the graph, %d messages): p50 %s, p99 %s, max %s\n",
		len(d.Lags), fmtDur(percentile(d.Lags, 50)), fmtDur(percentile(d.Lags, 99)), fmtDur(percentile(d.Lags, 100)))
	fmt.Fprintf(&sb, "- worker CPU %s in all, %.1f µs per edge (%.0f edges per worker CPU-second)\n",
		fmtDur(d.WorkerCPU()), float64(d.CPUPerEdge())/float64(time.Microsecond), rate(d.Edges, d.WorkerCPU()))
	for i, w := range d.Workers {
		flag := ""
		if d.RSSLimit > 0 && w.PeakRSS >= d.RSSLimit {
			flag = fmt.Sprintf(" **OVER the %s limit**", fmtBytes(d.RSSLimit))
		}
		fmt.Fprintf(&sb, "- worker %d (pid %d): CPU %s, peak RSS (VmHWM) %s%s\n", i+1, w.PID, fmtDur(w.CPU), fmtBytes(w.PeakRSS), flag)
	}
	sqs := fmtDur(d.SQSCPU)
	if !d.SQSKnown {
		sqs = "not measured (not started here)"
	}
	fmt.Fprintf(&sb, "- other CPU during the drain: harness process (the in-process stand-in, probes, progress) %s; SQS emulator %s\n", fmtDur(d.HarnessCPU), sqs)
	fmt.Fprintf(&sb, "- queue after the drain: %d messages left, %d in the DLQ\n\n", d.Left, d.DLQ)
	fmt.Fprintf(&sb, "**What limits the drain rate:** %s. (CPU shares: workers %.0f%%, stand-in/harness %.0f%%, SQS emulator %.0f%%; stand-in slots held by latency %.0f%%.)\n\n",
		l.Verdict, 100*l.WorkerShare, 100*l.HarnessShare, 100*l.SQSShare, 100*l.NeptuneBusy)
	if over := d.RSSOver(); len(over) > 0 {
		fmt.Fprintf(&sb, "**RSS FLAG:** %d worker(s) reached the %s limit.\n\n", len(over), fmtBytes(d.RSSLimit))
	} else if d.RSSLimit > 0 {
		fmt.Fprintf(&sb, "Every worker's peak RSS stayed under %s.\n\n", fmtBytes(d.RSSLimit))
	}
	for _, s := range c.Seeds {
		if s.Capped {
			fmt.Fprintf(&sb, "%s: capped; measured %d of %d edges (%s, %.1f ms per edge) and %d of %d services (%s); the total is extrapolated from those rates.\n\n",
				s.Variant, s.EdgesDone, s.Plan.Edges, fmtDur(s.EdgeTime), float64(s.EdgeTime)/float64(time.Millisecond)/float64(max(s.EdgesDone, 1)),
				s.ServicesDone, s.Plan.Services, fmtDur(s.ServiceTime))
		}
	}
	sb.WriteString("Chart: `drain.svg` (edges/s, queue depth and writer limit over time). Raw figures: `drain.json`.\n")
	return sb.String()
}
