package audit

import (
	"context"
	"log/slog"
	"runtime/metrics"
	"time"
)

// LogStage logs, at info level (the CLI shows it with -v), that a stage of the audit
// finished: its duration, what it produced, and the live heap at its end,
// so that a slow or large audit says where its time and memory go.
func LogStage(l *slog.Logger, stage string, start time.Time, attrs ...any) {
	if !l.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	args := append([]any{"stage", stage, "duration", time.Since(start).Round(time.Microsecond)}, attrs...)
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
