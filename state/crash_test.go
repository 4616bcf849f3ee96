package state

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
)

const crashWriterEnv = "PORTCULLIS_STATE_CRASH_WRITER"

// crashWriter saves the dir state in a loop until killed: run k holds
// 500+k%100 entries, so a reader can tell a complete baseline from a torn
// one.
func crashWriter(dir string) int {
	ctx := context.Background()
	st, err := NewDir(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for k := 1; ; k++ {
		_, v, err := st.Load(ctx, scopeA)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if _, err := st.Save(ctx, sample(scopeA, "run-"+strconv.Itoa(k), 500+k%100), v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
}

// TestCrashKeepsPreviousBaseline kills a writer with SIGKILL at varied
// moments; every time, the state file is a complete baseline (the previous
// or the new one), and the lock the dead writer may have left is broken by
// the next Save.
func TestCrashKeepsPreviousBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns writers; skipped in -short")
	}
	dir := t.TempDir()
	ctx := context.Background()
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashWriterEnv+"="+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait for the writer's first baseline (startup is slow on a loaded
		// machine), let it write more, then kill it mid-flight.
		file := filepath.Join(dir, "aws", scopeA.Account, scopeA.Region+".json")
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if _, err := os.Stat(file); err == nil {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: the writer wrote nothing in 20 s: %s", round, stderr.String())
			}
		}
		time.Sleep(time.Duration(20+37*round) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: writer ended on its own (%v): %s", round, err, stderr.String())
		}
		st, err := NewDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		b, v, err := st.Load(ctx, scopeA)
		if err != nil {
			t.Fatalf("round %d: state unreadable after SIGKILL: %v", round, err)
		}
		if v == "" {
			t.Fatalf("round %d: no baseline after the writer wrote one", round)
		}
		k, err := strconv.Atoi(strings.TrimPrefix(b.RunID, "run-"))
		if err != nil || len(b.Entries) != 500+k%100 {
			t.Fatalf("round %d: baseline %q holds %d entries, want %d: torn", round, b.RunID, len(b.Entries), 500+k%100)
		}
		// No temporary file is mistaken for a scope.
		if scopes, err := st.Scopes(ctx); err != nil || len(scopes) != 1 {
			t.Fatalf("round %d: scopes %v, %v", round, scopes, err)
		}
		// The next run saves despite a lock the dead writer may hold (its
		// pid is gone), well within the lock wait.
		st.LockWait = 5 * time.Second
		start := time.Now()
		if _, err := st.Save(ctx, b, v); err != nil {
			t.Fatalf("round %d: save after the crash: %v", round, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("round %d: save after the crash waited %v for a dead writer's lock", round, d)
		}
	}
	t.Logf("files left: %v", globAll(dir))
}

func globAll(dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			out = append(out, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	return out
}

var _ = exposure.Effective
