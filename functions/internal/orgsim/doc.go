// Package orgsim simulates the serverless stack at organization size
// (1,000 accounts × 17 regions) in its benchmarks: the collect path of one
// account-region against moto behind a fault proxy that adds per-call
// latency (API calls and time per unit), and the report stage's streamed
// merge of 17,000 unit results from the runs bucket on moto S3 (wall time
// and peak memory). docs/benchmarks.md ("Organization simulation") has the
// figures and docs/deployment.md how a deployment's run time follows from
// them.
//
// The package has no code of its own; it is here for its benchmarks.
package orgsim
