//go:build race

package main

// raceEnabled builds the worker under test with -race when the tests have it.
const raceEnabled = true
