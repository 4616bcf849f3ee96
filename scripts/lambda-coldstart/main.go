// Command lambda-coldstart measures the init time of Lambda bootstraps on
// this machine: the time from exec to the function's first request for an
// event (GET /2018-06-01/runtime/invocation/next), answered by a stand-in
// of the Lambda Runtime API on 127.0.0.1 that the bootstrap finds through
// AWS_LAMBDA_RUNTIME_API, as Lambda's own runtime API is found. That span
// is what Lambda bills as Init Duration for a provided.al2023 function:
// loading the binary, Go's runtime and package initialization, and the
// function's setup before lambda.Start. The process's resident memory at
// that point is printed too.
//
// No traffic leaves the machine: the runtime API is on loopback, AWS
// credentials are dummies, and the bootstrap is stopped before it handles
// anything.
//
//	go run ./scripts/lambda-coldstart [-n 15] bin/lambda/amd64/*/bootstrap
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	n := flag.Int("n", 15, "cold starts per bootstrap")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: lambda-coldstart [-n N] BOOTSTRAP…")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	first := make(chan struct{}, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/runtime/invocation/next") {
			select {
			case first <- struct{}{}:
			default:
			}
			<-r.Context().Done() // hold the request: no event, ever
			return
		}
		w.WriteHeader(http.StatusAccepted) // init/error reports
	})}
	go srv.Serve(ln)
	defer srv.Close()

	fmt.Println("| bootstrap | size | init (median) | init (min-max) | RSS at first /next |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: |")
	for _, bin := range flag.Args() {
		st, err := os.Stat(bin)
		if err != nil {
			fail(err)
		}
		var times []time.Duration
		var rss int64
		for i := 0; i < *n; i++ {
			d, r, err := coldStart(bin, ln.Addr().String(), first)
			if err != nil {
				fail(fmt.Errorf("%s: %w", bin, err))
			}
			times = append(times, d)
			rss = max(rss, r)
		}
		slices.Sort(times)
		fmt.Printf("| %s | %.1f MB | %.1f ms | %.1f-%.1f ms | %.1f MiB |\n", bin, float64(st.Size())/1e6,
			ms(times[len(times)/2]), ms(times[0]), ms(times[len(times)-1]), float64(rss)/(1<<20))
	}
}

func coldStart(bin, api string, first chan struct{}) (time.Duration, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = []string{
		"AWS_LAMBDA_RUNTIME_API=" + api,
		"AWS_LAMBDA_FUNCTION_NAME=coldstart", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1769",
		"AWS_REGION=eu-west-1", "AWS_DEFAULT_REGION=eu-west-1",
		"AWS_ACCESS_KEY_ID=AKIAEXAMPLECOLDSTART", "AWS_SECRET_ACCESS_KEY=example",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_ENDPOINT_URL=http://127.0.0.1:9",
		"RUNS_BUCKET=coldstart", "REPORT_FORMATS=json", "LOG_LEVEL=error",
		// collect and react refuse to start without their member role.
		"MEMBER_ROLE_NAME=PortcullisAudit",
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		// The bootstrap is killed on purpose once timed: Kill fails only if
		// it has already exited, and Wait then reports the kill itself.
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	select {
	case <-first:
	case <-ctx.Done():
		return 0, 0, fmt.Errorf("no request for an event within 30 s")
	}
	d := time.Since(start)
	return d, vmRSS(cmd.Process.Pid), nil
}

func vmRSS(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "lambda-coldstart:", err)
	os.Exit(1)
}
