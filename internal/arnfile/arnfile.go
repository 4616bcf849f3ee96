// Package arnfile names the per-resource files of an AWS snapshot after
// their resources' ARNs (docs/providers/aws.md), for the collector that
// writes them, the normalizer and the IaC plan overlay that read them.
package arnfile

import "strings"

// Name is the file name part for arn: its resource part (after the fifth
// colon; the whole string when it has fewer), with "/" and ":" as "_".
func Name(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	s := arn
	if len(parts) == 6 {
		s = parts[5]
	}
	return strings.NewReplacer("/", "_", ":", "_").Replace(s)
}
