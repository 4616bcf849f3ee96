package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/portcullis-sec/portcullis/reports"
)

// chromiumPath is where Debian's chromium package puts the browser (make
// chromium installs it).
const chromiumPath = "/usr/bin/chromium"

// artifactsDir holds the screenshots and the PDF of the browser test, for
// people to look at (gitignored).
const artifactsDir = "../out/test-artifacts"

// maxPrintedPages is what the demo report may take on A4 with the target
// details collapsed.
const maxPrintedPages = 15

// TestHTMLInChromium opens the demo report in headless Chromium: the page
// runs without console errors (a CSP violation is one), its search finds a
// finding by ID, sorting and filtering change the rows, a compliance link
// lands on its finding, and it prints to at most 15 A4 pages.
func TestHTMLInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("chromium is not installed at %s (run `make chromium`, which installs Debian's package): %v", chromiumPath, err)
	}
	if testing.Short() {
		// make test runs -short; the browser test is part of it anyway:
		// it takes a few seconds.
		t.Log("running the browser test under -short too")
	}
	d := withChanges(demoDocument(t))
	var page bytes.Buffer
	if err := reports.Render(&page, "html", d); err != nil {
		t.Fatal(err)
	}
	// Loopback only: the page is served from 127.0.0.1, and it must fetch
	// nothing, so any other request is counted as a failure.
	var mu sync.Mutex
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.URL.Path)
		mu.Unlock()
		if r.URL.Path != "/report.html" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page.Bytes())
	}))
	defer srv.Close()

	if err := os.MkdirAll(artifactsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Generous: a loaded 2-core CI machine running the race-enabled suite
	// can take over a minute just to start Chromium and lay the page out.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 1000),
	)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	messages := chromedp.Console(bctx)
	if err := chromedp.Do(bctx,
		chromedp.EmulateViewport(1400, 1000),
		chromedp.Navigate(srv.URL+"/report.html"),
		chromedp.WaitReady(chromedp.ID("findings-table")),
	); err != nil {
		t.Fatalf("open the report: %v", err)
	}
	shot := func(name string, a chromedp.Action[[]byte]) {
		t.Helper()
		png, err := chromedp.Run(bctx, a)
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(artifactsDir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Printing first, from the page as loaded: details collapsed.
	pdf, err := chromedp.Run(bctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4)))
	if err != nil {
		t.Fatalf("print to PDF: %v", err)
	}
	if err := os.WriteFile(filepath.Join(artifactsDir, "html-demo.pdf"), pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	if n := pdfPages(pdf); n == 0 || n > maxPrintedPages {
		t.Errorf("the demo report prints to %d A4 pages, want 1 to %d", n, maxPrintedPages)
	} else {
		t.Logf("the demo report prints to %d A4 pages", n)
	}
	// Where the printed pages go: the heights of the sections in print
	// media at the printable width of A4 (720 px at 96 dpi; a page holds
	// about 1030 px).
	if _, err := chromedp.Call(bctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(720, 1000)); err != nil {
		t.Fatal(err)
	}
	heights := evalJS[map[string]float64](bctx, t, `(function(){var o={};document.querySelectorAll("header,section").forEach(function(s){o[s.id||s.tagName]=Math.round(s.getBoundingClientRect().height)});return o})()`)
	t.Logf("printed section heights in px: %v", heights)
	if _, err := chromedp.Call(bctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: ""}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1400, 1000)); err != nil {
		t.Fatal(err)
	}
	shot("html-top.png", chromedp.CaptureScreenshot())

	// The page's search finds a finding by its ID (and only that one).
	f := d.Findings[len(d.Findings)/2]
	shown := evalJS[[]string](bctx, t, fmt.Sprintf(`(function(){var q=document.getElementById("q");q.value=%q;q.dispatchEvent(new Event("input"));
		return Array.from(document.querySelectorAll("#findings-table tbody tr")).filter(function(r){return !r.hidden}).map(function(r){return r.id})})()`, f.ID))
	if len(shown) != 1 || shown[0] != "f-"+f.ID {
		t.Errorf("searching %s shows %v, want only its row", f.ID, shown)
	}
	count := evalJS[string](bctx, t, `document.getElementById("shown").textContent`)
	if !strings.HasPrefix(count, "1 of ") {
		t.Errorf("the count says %q after the search", count)
	}

	// Filtering by severity shows exactly the critical findings.
	critical := 0
	for _, f := range d.Findings {
		if f.Severity.String() == "critical" {
			critical++
		}
	}
	visible := evalJS[int](bctx, t, `(function(){var q=document.getElementById("q");q.value="";q.dispatchEvent(new Event("input"));
		var s=document.getElementById("sev");s.value="critical";s.dispatchEvent(new Event("change"));
		return document.querySelectorAll("#findings-table tbody tr:not([hidden])").length})()`)
	if visible != critical || visible == len(d.Findings) {
		t.Errorf("the critical filter shows %d rows, want the %d critical of %d", visible, critical, len(d.Findings))
	}
	visible = evalJS[int](bctx, t, `(function(){var s=document.getElementById("sev");s.value="";s.dispatchEvent(new Event("change"));
		return document.querySelectorAll("#findings-table tbody tr:not([hidden])").length})()`)
	if visible != len(d.Findings) {
		t.Errorf("clearing the filter shows %d rows, want %d", visible, len(d.Findings))
	}

	// Sorting by rule orders the rows by rule ID; a second click reverses.
	rulesJS := `Array.from(document.querySelectorAll("#findings-table tbody tr")).map(function(r){return r.cells[1].textContent.trim().toLowerCase()})`
	before := evalJS[[]string](bctx, t, rulesJS)
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS("#findings-table thead th:nth-child(2)"))); err != nil {
		t.Fatal(err)
	}
	asc := evalJS[[]string](bctx, t, rulesJS)
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS("#findings-table thead th:nth-child(2)"))); err != nil {
		t.Fatal(err)
	}
	desc := evalJS[[]string](bctx, t, rulesJS)
	if slicesEqual(before, asc) {
		t.Errorf("sorting by rule did not change the order")
	}
	for i := 1; i < len(asc); i++ {
		if asc[i-1] > asc[i] {
			t.Errorf("after sorting, row %d (%q) comes before %q", i, asc[i-1], asc[i])
			break
		}
	}
	if len(desc) == 0 || desc[0] != asc[len(asc)-1] {
		t.Errorf("a second click does not reverse the order")
	}

	// A compliance control's link lands on its finding's row.
	href := evalJS[string](bctx, t, `document.querySelector("#compliance a[href^='#f-']").getAttribute("href")`)
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#compliance a[href^='#f-']`))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	landed := evalJS[landing](bctx, t, fmt.Sprintf(`(function(){var e=document.getElementById(%q);var r=e.getBoundingClientRect();
		return {hash:location.hash,top:r.top,ok:!e.hidden&&r.height>0}})()`, strings.TrimPrefix(href, "#")))
	if landed.Hash != href || !landed.Ok || landed.Top < 0 || landed.Top > 200 {
		t.Errorf("the compliance link %s landed at %+v, want its row at the top of the view", href, landed)
	}

	// A finding's exposure link opens the target's detail at the path.
	x := d.Findings[0].Exposure
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#findings-table tbody tr#f-`+d.Findings[0].ID+` a.xlink`))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	open := evalJS[bool](bctx, t, fmt.Sprintf(`document.getElementById(%q).closest("details").open`, "x-"+x.ID))
	if !open {
		t.Errorf("the exposure link did not open the target's detail")
	}
	// The viewport, with the exposure's path at its top (the link scrolled
	// it there).
	evalJS[bool](bctx, t, fmt.Sprintf(`document.getElementById(%q).scrollIntoView({block:"start"}),true`, "x-"+x.ID))
	shot("html-detail.png", chromedp.CaptureScreenshot())

	// Print media, for a look at the printed layout.
	if _, err := chromedp.Call(bctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(720, 1000)); err != nil {
		t.Fatal(err)
	}
	evalJS[bool](bctx, t, `document.getElementById("exposures").scrollIntoView(),true`)
	shot("html-print.png", chromedp.CaptureScreenshot())

	bcancel()
	for m, err := range messages {
		if err != nil {
			break
		}
		if m.Type == chromedp.ConsoleError || m.IsException() {
			t.Errorf("console %s", m)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range requests {
		if p != "/report.html" {
			t.Errorf("the page fetched %s: it must be self-contained", p)
		}
	}
}

type landing struct {
	Hash string  `json:"hash"`
	Top  float64 `json:"top"`
	Ok   bool    `json:"ok"`
}

// evalJS evaluates an expression in the page and decodes its value.
func evalJS[T any](ctx context.Context, t *testing.T, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// pdfPages counts the page objects of a PDF (Chromium writes them
// uncompressed: /Type /Page, not /Pages).
func pdfPages(pdf []byte) int {
	return len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(pdf, -1))
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
