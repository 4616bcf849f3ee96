//go:build race

package audit_test

// raceEnabled is true when the tests run under the race detector (make
// test), which slows single-goroutine CPU-bound tests about tenfold.
const raceEnabled = true
