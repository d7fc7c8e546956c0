// Package faulttest holds tests of what signupguard promises under faults:
// the process killed or stopped under load, Postgres or DNS gone, slow
// clients, and a long run of mixed traffic. Each test prints its figures
// (sent, acknowledged, found, lost) so a run can be read, not only passed.
// The package has no code of its own; scripts/test runs it with the rest.
package faulttest
