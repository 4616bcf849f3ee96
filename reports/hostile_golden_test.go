package reports

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis-sec/portcullis/exposure"
)

// hostileEstateReport is hostileReport with the rest of what a tag can
// hold: a Slack broadcast, NUL, BEL, a screen clear, quotes and a formula,
// and a changes section naming the hostile target.
func hostileEstateReport() *Document {
	r := hostileReport()
	e := r.Exposures[0]
	e.Target.Tags["team"] = "<!channel> \x00\x07\x1b[2J 'quoted' \"double\" " + hostileCSV
	r.Exposures[1].Target.Name = "<!channel>\x07bell\x00nul"
	d := NewDocument(r)
	x := d.Exposures[0]
	d.AttachChanges(&Changes{Since: "2026-11-23T23:00:00Z" + hostileScript, Counts: ChangeCounts{New: 1},
		Items: []ChangeItem{{Kind: ChangeNew, Key: x.Key, ExposureIDs: []string{x.ID}, Ports: "3389",
			Added: hostileTerm, Target: hostileScript + "<!channel>", HasFindings: true, Severity: x.MaxSeverity}},
		Skipped: []exposure.Scope{{Provider: "aws", Account: hostileCSV, Region: hostileTerm}},
		Trend:   []TrendPoint{{At: hostileImg, Effective: 1}, {At: "2026-11-24T23:00:00Z", Effective: 5, Latent: 2}}})
	return d
}

// TestHostileGoldens renders the hostile estate as a table, Markdown and
// HTML, compares each with its golden file (reviewed by eye) and checks
// the property each format must keep whatever the golden says.
func TestHostileGoldens(t *testing.T) {
	d := hostileEstateReport()
	for _, c := range []struct {
		name   string
		render func(*bytes.Buffer) error
		check  func(t *testing.T, out string)
	}{
		{"hostile.table.txt", func(b *bytes.Buffer) error { return RenderTable(b, d, TableOptions{Width: 100}) },
			func(t *testing.T, out string) {
				for _, r := range out {
					if r != '\n' && unsafeRune(r) {
						t.Errorf("the table holds a raw control or format character %U", r)
					}
				}
				if !strings.Contains(out, `\x1b[2J`) || !strings.Contains(out, `\x00`) || !strings.Contains(out, `\u202e`) {
					t.Errorf("control characters are not shown as escapes")
				}
			}},
		{"hostile.md", func(b *bytes.Buffer) error { return writeMarkdown(b, d) },
			func(t *testing.T, out string) {
				if strings.Contains(out, "<!channel>") || strings.Contains(out, "<script>") || strings.ContainsAny(out, "\x00\x07\x1b") {
					t.Errorf("Markdown holds live markup or control characters")
				}
			}},
		{"hostile.html", func(b *bytes.Buffer) error { return writeHTML(b, d) },
			func(t *testing.T, out string) {
				if strings.Count(out, "<script") != 1 || strings.Contains(out, "<!channel>") || strings.ContainsAny(out, "\x00\x07\x1b") {
					t.Errorf("HTML holds a second script, a raw <!channel> or control characters")
				}
				if !strings.Contains(out, "&lt;!channel&gt;") {
					t.Errorf("the hostile target name is not shown escaped")
				}
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := c.render(&b); err != nil {
				t.Fatal(err)
			}
			c.check(t, b.String())
			path := filepath.Join("testdata", c.name)
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./reports -update)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs (review and run go test ./reports -update):\n%s", path, firstDiff(b.Bytes(), want))
			}
		})
	}
}
