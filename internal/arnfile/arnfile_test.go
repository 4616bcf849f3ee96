package arnfile

import "testing"

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:elasticloadbalancing:eu-west-1:111122223333:loadbalancer/net/edge/50dc6c495c0c9188":             "loadbalancer_net_edge_50dc6c495c0c9188",
		"arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/ssh:2222/0123":                          "targetgroup_ssh_2222_0123",
		"arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web/73e2d6bc24d8a067":                   "targetgroup_web_73e2d6bc24d8a067",
		"arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2": "listener_app_web_50dc6c495c0c9188_f2f7dc8efc522ab2",
		"pl-0123":               "pl-0123",
		"not-an-arn/with:parts": "not-an-arn_with_parts",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}
