package audit

import (
	"context"

	"github.com/portcullis-sec/portcullis/alerts"
)

// WithActor wraps a notifier so that every exposure its messages announce
// says who made the change that triggered the run (alerts.Item.Actor):
// a re-audit after a CloudTrail event (docs/react.md) knows the principal,
// the call and the time. actor is providers/aws.Describe's text; the
// opened, widened and reopened exposures read "opened by …" ("widened
// by …"), the resolved ones "closed by …". An empty actor leaves the
// messages as they are. The name is the wrapped notifier's, so the state
// records deliveries per channel as before.
//
// An alert still pending from an earlier run that goes out in the same
// message gets the same line: the message is about this run's changes
// and the earlier alert was not delivered before them.
func WithActor(n alerts.Notifier, actor string) alerts.Notifier {
	if actor == "" {
		return n
	}
	return actorNotifier{Notifier: n, actor: actor}
}

type actorNotifier struct {
	alerts.Notifier
	actor string
}

func (a actorNotifier) Notify(ctx context.Context, m alerts.Message) error {
	m.Items = withActor(m.Items, a.actor)
	m.Resolved = withActor(m.Resolved, a.actor)
	return a.Notifier.Notify(ctx, m)
}

func withActor(items []alerts.Item, actor string) []alerts.Item {
	if len(items) == 0 {
		return items
	}
	out := make([]alerts.Item, len(items))
	for i, it := range items {
		verb := "opened by "
		switch it.Kind {
		case alerts.KindWidened:
			verb = "widened by "
		case alerts.KindResolved:
			verb = "closed by "
		}
		if it.Actor == "" {
			it.Actor = verb + actor
		}
		out[i] = it
	}
	return out
}
