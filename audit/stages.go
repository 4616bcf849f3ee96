package audit

import (
	"context"
	"log/slog"
	"runtime/metrics"
	"time"
)

// Stage is a stage of the audit being timed: when it started, in wall-clock
// time and in the process's CPU time. On a shared machine the wall time of
// a stage depends on the other jobs; its CPU time much less, so -v logs
// both.
type Stage struct {
	start time.Time
	cpu   time.Duration
}

// StartStage starts timing a stage.
func StartStage() Stage { return Stage{start: time.Now(), cpu: processCPU()} }

// Done logs, at info level (the CLI shows it with -v), that the stage
// finished: its duration, the CPU time the process spent meanwhile (every
// thread, user and system), what it produced, and the live heap at its
// end, so that a slow or large audit says where its time and memory go.
func (s Stage) Done(l *slog.Logger, stage string, attrs ...any) {
	if !l.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	args := append([]any{"stage", stage, "duration", time.Since(s.start).Round(time.Microsecond)}, attrs...)
	if s.cpu > 0 { // 0: not measured (no getrusage on this platform)
		args = append(args, "cpu", (processCPU() - s.cpu).Round(time.Millisecond))
	}
	args = append(args, "heap_mib", HeapMiB())
	l.Info("stage done", args...)
}

// HeapMiB is the memory held by heap objects now (live and not yet
// swept), in MiB. Reading it does not stop the world.
func HeapMiB() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64() >> 20)
}
