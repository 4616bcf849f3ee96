package state

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestDirLock: a lock held by a live process makes Save wait and give up
// with ErrLocked; one left by a dead process, or older than StaleLockAge,
// is broken.
func TestDirLock(t *testing.T) {
	ctx := context.Background()
	host, _ := os.Hostname()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		lock    lockInfo
		raw     string // instead of lock
		age     time.Duration
		wantErr error
	}{
		{name: "live holder", lock: lockInfo{PID: os.Getpid(), Host: host, Time: time.Now()}, wantErr: ErrLocked},
		{name: "dead holder", lock: lockInfo{PID: dead.Process.Pid, Host: host, Time: time.Now()}},
		{name: "other host, fresh", lock: lockInfo{PID: 1, Host: "elsewhere", Time: time.Now()}, wantErr: ErrLocked},
		{name: "other host, old", lock: lockInfo{PID: 1, Host: "elsewhere", Time: time.Now().Add(-time.Hour)}},
		{name: "empty, fresh", raw: "-", wantErr: ErrLocked},
		{name: "empty, old", raw: "-", age: time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := NewDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			st.LockWait = 100 * time.Millisecond
			p, _ := st.path(scopeA)
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(tc.lock)
			if tc.raw != "" {
				data = nil
			}
			if err := os.WriteFile(p+".lock", data, 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.age > 0 {
				old := time.Now().Add(-tc.age)
				os.Chtimes(p+".lock", old, old)
			}
			_, err = st.Save(ctx, sample(scopeA, "run-1", 1), "")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Save = %v, want %v", err, tc.wantErr)
				}
				if _, err := os.Stat(p + ".lock"); err != nil {
					t.Errorf("the holder's lock is gone: %v", err)
				}
				if _, v, _ := st.Load(ctx, scopeA); v != "" {
					t.Errorf("saved despite the lock (version %q)", v)
				}
				return
			}
			if err != nil {
				t.Fatalf("Save = %v, want the stale lock broken", err)
			}
			if _, err := os.Stat(p + ".lock"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("lock left behind after Save: %v", err)
			}
		})
	}
}

// TestDirUnreadableNotOverwritten: a damaged baseline file is an error for
// Load and Save alike, never silently replaced.
func TestDirUnreadableNotOverwritten(t *testing.T) {
	ctx := context.Background()
	st, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := st.path(scopeA)
	os.MkdirAll(filepath.Dir(p), 0o700)
	os.WriteFile(p, []byte(`{"generation":3,"baseline":{"schemaVersion":1,`), 0o600)
	if _, _, err := st.Load(ctx, scopeA); err == nil {
		t.Fatal("Load read a torn file")
	}
	if _, err := st.Save(ctx, sample(scopeA, "run-1", 1), "3"); err == nil {
		t.Fatal("Save replaced an unreadable file")
	}
	if b, _ := os.ReadFile(p); string(b) != `{"generation":3,"baseline":{"schemaVersion":1,` {
		t.Fatalf("file changed: %s", b)
	}
}
