package audit

import (
	"context"
	"testing"

	"github.com/portcullis-sec/portcullis/alerts"
)

type recordingNotifier struct{ got []alerts.Message }

func (*recordingNotifier) Name() string { return "slack" }
func (r *recordingNotifier) Notify(_ context.Context, m alerts.Message) error {
	r.got = append(r.got, m)
	return nil
}

func TestWithActor(t *testing.T) {
	rec := &recordingNotifier{}
	if WithActor(rec, "") != alerts.Notifier(rec) {
		t.Error("an empty actor wraps the notifier")
	}
	n := WithActor(rec, "arn:aws:iam::111122223333:user/alice (CreateRoute) at 2026-12-01 10:02 UTC")
	if n.Name() != "slack" {
		t.Errorf("name %q: deliveries are recorded per channel name", n.Name())
	}
	m := alerts.Message{
		Items:    []alerts.Item{{Kind: alerts.KindNew}, {Kind: alerts.KindWidened}, {Kind: alerts.KindReopened, Actor: "already said"}},
		Resolved: []alerts.Item{{Kind: alerts.KindResolved}},
	}
	if err := n.Notify(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	const who = "arn:aws:iam::111122223333:user/alice (CreateRoute) at 2026-12-01 10:02 UTC"
	got := rec.got[0]
	for i, want := range []string{"opened by " + who, "widened by " + who, "already said"} {
		if got.Items[i].Actor != want {
			t.Errorf("item %d actor %q, want %q", i, got.Items[i].Actor, want)
		}
	}
	if got.Resolved[0].Actor != "closed by "+who {
		t.Errorf("resolved actor %q", got.Resolved[0].Actor)
	}
	if m.Items[0].Actor != "" {
		t.Error("the caller's message was modified")
	}
}
