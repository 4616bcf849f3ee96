package main

import (
	"bytes"
	"testing"
)

func TestTableWidth(t *testing.T) {
	for _, c := range []struct {
		name, columns, output string
		flag, want            int
	}{
		{"piped, no COLUMNS: the table's default", "", "", 0, 0},
		{"COLUMNS", "80", "", 0, 80},
		{"--width overrides COLUMNS", "80", "", 200, 200},
		{"a file ignores COLUMNS", "80", "report.txt", 0, 0},
		{"a file takes --width", "", "report.txt", 100, 100},
		{"COLUMNS that is not a number", "wide", "", 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			// stdout is a buffer, never a terminal: the terminal's size
			// is not consulted.
			e := &env{stdout: &bytes.Buffer{}, stdoutTTY: true, getenv: func(k string) string {
				if k == "COLUMNS" {
					return c.columns
				}
				return ""
			}}
			if got := tableWidth(e, c.output, c.flag); got != c.want {
				t.Errorf("tableWidth = %d, want %d", got, c.want)
			}
		})
	}
}
