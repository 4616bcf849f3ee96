package alerts

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
)

// DryRun prints each message as text instead of sending it
// (--notify-dry-run). Every cloud string is cleaned of control characters
// first, so a tag cannot drive the terminal.
type DryRun struct {
	mu       sync.Mutex
	w        io.Writer
	channels string
	max      int
}

// NewDryRun prints to w. channels names what a real run would send through
// ("slack, email"), for the banner of each message; it may be empty.
func NewDryRun(w io.Writer, channels string) *DryRun {
	return &DryRun{w: w, channels: clean(channels, 64), max: 100}
}

// Name implements Notifier.
func (*DryRun) Name() string { return "dry-run" }

// Notify writes m.
func (d *DryRun) Notify(_ context.Context, m Message) error {
	m = cleanMessage(m)
	var b bytes.Buffer
	banner := "dry run: not sent"
	if d.channels != "" {
		banner = "dry run: would send to " + d.channels
	}
	fmt.Fprintf(&b, "──── %s ────\n", banner)
	writeText(&b, newEmailView(m, d.max), false)
	b.WriteString("\n")
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write the dry-run message: %w", err)
	}
	return nil
}
