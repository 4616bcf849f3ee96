package probe

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/portcullis-sec/portcullis/exposure"
	"github.com/portcullis-sec/portcullis/probe/lab"
)

const netnsChildEnv = "PORTCULLIS_PROBE_NETNS_CHILD"

// TestFilteredByFirewall creates a network namespace of its own whose
// firewall drops SYNs to one port (nft, or iptables), and runs
// TestFilteredByFirewallChild inside it: the prober must see that port
// filtered, a port without listener closed and an SSH-like service open.
// Packets never leave the namespace's loopback. It needs root, ip(8) and
// nft(8) or iptables(8), and is skipped, saying which is missing, without
// them.
func TestFilteredByFirewall(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("network namespaces are a Linux feature")
	}
	if os.Geteuid() != 0 {
		t.Skip("creating a network namespace with a DROP rule needs root; the accept-queue filtered case in TestFingerprints covers filtered without it")
	}
	ipPath, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("ip(8) (iproute2) not installed: cannot create a network namespace")
	}
	var drop [][]string
	if _, err := exec.LookPath("nft"); err == nil {
		drop = [][]string{
			{"nft", "add", "table", "inet", "portcullis"},
			{"nft", "add", "chain", "inet", "portcullis", "input", "{ type filter hook input priority 0 ; policy accept ; }"},
			{"nft", "add", "rule", "inet", "portcullis", "input", "tcp", "dport", "4444", "drop"},
		}
	} else if _, err := exec.LookPath("iptables"); err == nil {
		drop = [][]string{{"iptables", "-A", "INPUT", "-p", "tcp", "--dport", "4444", "-j", "DROP"}}
	} else {
		t.Skip("neither nft(8) nor iptables(8) installed: cannot add a DROP rule")
	}
	ns := fmt.Sprintf("portcullis-probe-%d", os.Getpid())
	if out, err := exec.Command(ipPath, "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create network namespace %s (%v: %s)", ns, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command(ipPath, "netns", "del", ns).Run() })
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(ipPath, append([]string{"netns", "exec", ns}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ip netns exec %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
		}
	}
	run("ip", "link", "set", "lo", "up")
	for _, c := range drop {
		run(c...)
	}
	cmd := exec.Command(ipPath, "netns", "exec", ns, os.Args[0], "-test.run=^TestFilteredByFirewallChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), netnsChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestFilteredByFirewallChild") {
		t.Fatalf("child in namespace %s: %v\n%s", ns, err, out)
	}
	t.Logf("child in namespace %s:\n%s", ns, out)
}

// TestFilteredByFirewallChild runs inside the namespace made above.
func TestFilteredByFirewallChild(t *testing.T) {
	if os.Getenv(netnsChildEnv) == "" {
		t.Skip("runs inside the namespace TestFilteredByFirewall creates")
	}
	// A real listener behind the DROP rule: the service is there, the
	// firewall hides it.
	ln, err := net.Listen("tcp", "127.0.0.1:4444")
	if err != nil {
		t.Fatalf("listen behind the DROP rule: %v", err)
	}
	defer ln.Close()
	l := startLab(t, lab.Service{Kind: lab.SSH})
	p := newProber(t, Config{Timeout: 500 * time.Millisecond})
	lo := netip.MustParseAddr("127.0.0.1")
	targets := []Target{
		{Addr: lo, Protocol: exposure.ProtocolTCP, Port: 4444},
		{Addr: lo, Protocol: exposure.ProtocolTCP, Port: 4445},
		targetOf(l.Endpoints[0], ""),
	}
	start := time.Now()
	obs := p.Run(t.Context(), targets, nil)
	for i, want := range []exposure.ProbeState{exposure.ProbeFiltered, exposure.ProbeClosed, exposure.ProbeOpen} {
		if obs[i].State != want {
			t.Errorf("port %d: %s, want %s (%v)", obs[i].Port, obs[i].State, want, obs[i].Evidence)
		}
	}
	t.Logf("dropped port: %s in %v; closed: %s; open: %s %s", obs[0].State, time.Since(start), obs[1].State, obs[2].Service, obs[2].Product)
}
