package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// progressBar draws one self-overwriting status line on a terminal:
// "collecting [########------------] 12/30  aws 111122223333 eu-west-1".
// It implements providers.Progress and probe.Progress. On anything but a terminal (a pipe, a
// file, Lambda's log stream) it is never created: quiet is the default.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	total int
	done  int
	last  string
	drawn time.Time
	width int
}

func newProgressBar(w io.Writer, label string) *progressBar {
	width := 80
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			width = cols
		}
	}
	return &progressBar{w: w, label: label, width: width}
}

func (p *progressBar) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total += n
	p.draw(false)
}

func (p *progressBar) Done(what string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.last = what
	p.draw(false)
}

// Finish clears the line.
func (p *progressBar) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width-1))
}

func (p *progressBar) draw(force bool) {
	if !force && time.Since(p.drawn) < 80*time.Millisecond && p.done < p.total {
		return
	}
	p.drawn = time.Now()
	const barWidth = 24
	filled := 0
	if p.total > 0 {
		filled = min(barWidth, p.done*barWidth/p.total)
	}
	line := fmt.Sprintf("%s [%s%s] %d/%d  %s", p.label,
		strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled), p.done, p.total, sanitize(p.last))
	if r := []rune(line); len(r) > p.width-1 {
		line = string(r[:p.width-2]) + "…"
	}
	fmt.Fprintf(p.w, "\r%-*s", p.width-1, line)
}

// sanitize drops control characters from cloud-provided names before they
// reach the terminal.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return -1
		}
		return r
	}, s)
}
