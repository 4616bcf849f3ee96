package rules

import "github.com/portcullis-sec/portcullis/exposure"

// Adjust computes a finding's severity from its rule's base severity (the
// severity of an effective exposure open to anyone, not confirmed by a
// probe):
//
//	score    = base − breadth − level + probe
//	breadth  = 0 anyone, 1 broad, 2 narrow
//	level    = 0 effective, 1 latent
//	probe    = +1 open, −1 closed or filtered, 0 otherwise (no probe,
//	           error, skipped, or open but serving another service)
//	severity = clamp(score, max(info, floor), critical)
//
// So the same port is never less severe open to anyone than to a broad
// range, nor to a broad range than to one partner /24; never less severe
// effective than latent; never less severe confirmed than unconfirmed. A
// probe can lower a finding, never remove it.
func Adjust(base, floor Severity, b exposure.Breadth, l exposure.Level, probe exposure.ProbeState) Severity {
	score := int(base)
	switch b {
	case exposure.BreadthBroad:
		score--
	case exposure.BreadthNarrow:
		score -= 2
	}
	if l == exposure.Latent {
		score--
	}
	switch probe {
	case exposure.ProbeOpen:
		score++
	case exposure.ProbeClosed, exposure.ProbeFiltered:
		score--
	}
	lo := max(Info, floor)
	return Severity(min(max(score, int(lo)), int(Critical)))
}
