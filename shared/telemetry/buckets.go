package telemetry

// Histogram bucket boundaries, in seconds, shared so that the same kind of
// duration is bucketed alike in every binary.
var (
	// DurationBuckets is OTel's advice for messaging and HTTP durations.
	DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	// DBBuckets is OTel's advice for database client durations.
	DBBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}
	// LagBuckets spans end-to-end lags from a fraction of a second to a
	// day (a replayed batch).
	LagBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 21600, 86400}
)
