package archtest

import (
	"slices"
	"strings"
	"testing"
)

// weight pins what each Lambda function links (docs/deployment.md,
// "Function weight"): a function's binary size and cold start follow from
// its dependency graph, and one import in the wrong package (a stage
// reaching for audit, a shared helper importing a provider) silently puts
// every cloud's SDK back into all of them. needs are packages the function
// must link (so that the test cannot pass on an empty or wrong graph);
// never are import-path prefixes it must not link.
var weight = []struct {
	function string
	needs    []string
	never    []string
}{
	{
		function: "functions/plan",
		needs:    []string{"github.com/aws/aws-lambda-go/lambda", "github.com/aws/aws-sdk-go-v2/service/organizations", "github.com/portcullis-sec/portcullis/providers/aws"},
		never: []string{"cloud.google.com/go", "google.golang.org/api", "github.com/Azure/",
			"github.com/portcullis-sec/portcullis/audit", "github.com/portcullis-sec/portcullis/providers/gcp", "github.com/portcullis-sec/portcullis/providers/azure",
			"github.com/portcullis-sec/portcullis/alerts", "github.com/portcullis-sec/portcullis/state", "github.com/portcullis-sec/portcullis/rules",
			"github.com/aws/aws-sdk-go-v2/service/securityhub", "github.com/aws/aws-sdk-go-v2/service/dynamodb", "github.com/aws/aws-sdk-go-v2/service/sesv2"},
	},
	{
		function: "functions/notify",
		needs: []string{"github.com/aws/aws-lambda-go/lambda", "github.com/portcullis-sec/portcullis/alerts", "github.com/portcullis-sec/portcullis/state", "github.com/portcullis-sec/portcullis/audit/track",
			"github.com/portcullis-sec/portcullis/securityhub"},
		never: []string{"cloud.google.com/go", "google.golang.org/api", "github.com/Azure/",
			// audit itself (not audit/track): it imports every provider.
			"github.com/portcullis-sec/portcullis/audit\x00", "github.com/portcullis-sec/portcullis/providers/",
			"github.com/portcullis-sec/portcullis/functions/internal/stages\x00", "github.com/portcullis-sec/portcullis/probe",
			// Security Hub is synced here, after the run is tracked (the
			// import dates findings from the state, the archive needs
			// the diff): the securityhub client is linked, no other.
			"github.com/aws/aws-sdk-go-v2/service/ec2", "github.com/aws/aws-sdk-go-v2/service/organizations"},
	},
}

// TestFunctionWeight lists each function's dependencies as `make lambda`
// builds it (tag lambda.norpc) and checks them against weight.
func TestFunctionWeight(t *testing.T) {
	for _, w := range weight {
		t.Run(w.function, func(t *testing.T) {
			out, err := goCmd("../..", "list", "-tags", "lambda.norpc", "-deps", "-f", "{{.ImportPath}}", "./"+w.function)
			if err != nil {
				t.Fatal(err)
			}
			deps := strings.Fields(out)
			for _, n := range w.needs {
				if !slices.Contains(deps, n) {
					t.Errorf("%s does not link %s: the dependency list is not what this test expects", w.function, n)
				}
			}
			for _, d := range deps {
				for _, p := range w.never {
					// A prefix ending in NUL names exactly one package.
					exact, isExact := strings.CutSuffix(p, "\x00")
					if isExact && d == exact || !isExact && strings.HasPrefix(d, p) {
						t.Errorf("%s links %s (never %q); `go list -deps -json ./%s` shows who imports it", w.function, d, exact, w.function)
					}
				}
			}
		})
	}
}
