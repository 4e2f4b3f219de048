package cli

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
)

// The summary at the end of a run says, a stage a line, what went public
// and when against T0: the first upload of a re-run's crate is the one the
// first run made, and a version found on the registry is not counted as
// uploaded.
func TestSummarySaysWhatWentPublicAndWhenAgainstT0(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	at := func(ms int) *time.Time { v := t0.Add(time.Duration(ms) * time.Millisecond); return &v }
	stamp := func(ms int) string { return at(ms).Format(time.RFC3339Nano) }
	cfg := &config.Config{
		Releases: []config.Release{{Line: "1.13", PublicBranch: "main", Tag: "v1.13.1"}, {Line: "1.12", PublicBranch: "release-1.12", Tag: "v1.12.5"}},
		Blog:     &config.BlogSection{Branch: "master", Feed: "source/security.xml"},
	}
	st := &Status{ID: "ASYNC-STD-SA-2026-001", T0: t0, Deadline: t0.Add(6 * time.Hour), Now: *at(900), Stages: []*pipeline.StageRecord{
		{Name: "preflight", State: pipeline.StateDone, Ended: at(-4000), Steps: []*pipeline.StepRecord{{Name: "fetch", State: pipeline.StateDone}}},
		{Name: "push", State: pipeline.StateDone, Ended: at(80), Steps: []*pipeline.StepRecord{
			{Name: "push", State: pipeline.StateDone, First: map[string]string{"pushed_at": stamp(12)}, Public: []string{"pushed_at"}}}},
		{Name: "promote", State: pipeline.StateSkipped, Ended: at(-4000), Note: "no [[image]] configured"},
		{Name: "publish", State: pipeline.StateDone, Ended: at(700), Steps: []*pipeline.StepRecord{
			{Name: "publish demo-core@1.13.1", State: pipeline.StateDone, First: map[string]string{"uploaded_at": stamp(30)}, Public: []string{"uploaded_at"}},
			// A re-run found it there; the first run's upload stands.
			{Name: "publish demo@1.13.1", State: pipeline.StateDone, First: map[string]string{"uploaded_at": stamp(150)}, Public: []string{"uploaded_at"}, Summary: "already on the registry"},
			{Name: "publish demo@1.12.5", State: pipeline.StateDone, Summary: "already on the registry"},
		}},
		// Interrupted, resumed 26 s later: its writes pass into the next minute.
		{Name: "ghsa", State: pipeline.StateDone, Ended: at(90000), Steps: []*pipeline.StepRecord{
			{Name: "publish", State: pipeline.StateDone, First: map[string]string{"published_at": stamp(59047)}, Public: []string{"published_at"}},
			{Name: "again", State: pipeline.StateDone, First: map[string]string{"published_at": stamp(85145)}, Public: []string{"published_at"}}}},
		{Name: "advisory", State: pipeline.StateFailed, Ended: at(800), Steps: []*pipeline.StepRecord{
			{Name: "push", State: pipeline.StateFailed, Error: "the blog refused the push\nmore"}}},
	}}
	var b bytes.Buffer
	printSummary(&b, st, cfg, false)
	rows := map[string]string{}
	for _, l := range strings.Split(b.String(), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = l
		}
	}
	for stage, want := range map[string][]string{
		"preflight": {"done", "13:59:56.000", "-4s", "ready: 1 check passed"},
		"push":      {"14:00:00.012", "+12ms", "branches main, release-1.12; tags v1.13.1, v1.12.5"},
		"promote":   {"skipped", "no [[image]] configured"},
		"publish":   {"14:00:00.030-00.150", "+30ms to +150ms", "2 versions uploaded, 1 found there already"},
		"advisory":  {"failed", "the blog refused the push ..."},
		"ghsa":      {"14:00:59.047-01:25.145", "+59.047s to +1m25.145s"},
	} {
		for _, w := range want {
			if !strings.Contains(rows[stage], w) {
				t.Errorf("%s row %q lacks %q", stage, rows[stage], w)
			}
		}
	}
	if strings.Contains(rows["promote"], ":") {
		t.Errorf("a skipped stage has no time: %q", rows["promote"])
	}
	if strings.Contains(b.String(), "\033[") {
		t.Error("colour without a terminal")
	}
}

// Colour marks outcomes only where the environment allows it.
func TestColourRespectsNoColor(t *testing.T) {
	env := func(kv map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
	}
	if !pipeline.WantColor(env(map[string]string{"TERM": "xterm-256color"})) {
		t.Error("no colour on a plain terminal")
	}
	for _, kv := range []map[string]string{{"NO_COLOR": "1", "TERM": "xterm"}, {"TERM": "dumb"}} {
		if pipeline.WantColor(env(kv)) {
			t.Errorf("colour with %v", kv)
		}
	}
	var b bytes.Buffer
	rep := &pipeline.Reporter{Out: &b, Color: true, Clock: pipeline.NewFakeClock(time.Now())}
	rep.Emit(pipeline.Event{Kind: pipeline.EventDone, Stage: "push", Msg: "pushed"})
	if !strings.Contains(b.String(), "\033[32m ok\033[0m") {
		t.Errorf("a done event is not marked green: %q", b.String())
	}
}

// The command that resumes a failed run is said by the command line: from
// the stage the failure names, with the config flag only for a config not
// in the default place, --force when the re-run must replace something.
func TestResumeAdviceNamesTheCommand(t *testing.T) {
	def := &config.Config{Path: "embargo.toml"}
	other := &config.Config{Path: "release/embargo.toml"}
	for _, c := range []struct {
		cfg       *config.Config
		se        pipeline.StageError
		rehearsal bool
		want      string
	}{
		{def, pipeline.StageError{Stage: "push", From: "push"}, false, "fix the cause above, then `embargo run --from push` (safe"},
		{other, pipeline.StageError{Stage: "push", From: "preflight"}, false, "`embargo run -c release/embargo.toml --from preflight`"},
		{def, pipeline.StageError{Stage: "advisory", From: "advisory", Force: true}, false, "`embargo run --from advisory --force`"},
		// A mail that may have gone: forced alone, then the run goes on.
		{other, pipeline.StageError{Stage: "announce", From: "announce", Force: true, Only: true}, false,
			"then `embargo run -c release/embargo.toml --only announce --force`, then `embargo run -c release/embargo.toml --from announce` (safe"},
		{def, pipeline.StageError{Stage: "verify", From: "verify", Interrupted: true}, false, "`embargo run --from verify` resumes where the run was stopped"},
		{def, pipeline.StageError{Stage: "publish", From: "publish"}, true, "then `embargo rehearse` again"},
		// A refused credential: the fix is said, not "the cause above".
		{def, pipeline.StageError{Stage: "push", From: "push", Fix: "set EMBARGO_REGISTRY_TOKEN (registry.token_env) to a token the registry takes"}, false,
			"set EMBARGO_REGISTRY_TOKEN (registry.token_env) to a token the registry takes, then `embargo run --from push`"},
	} {
		if got := resumeAdvice(c.cfg, &c.se, c.rehearsal); !strings.Contains(got, c.want) {
			t.Errorf("%+v: %q, want it to say %q", c.se, got, c.want)
		}
	}
}

// With colour on, the summary's columns stand where they stand without
// it: the colour of a state takes no room, and the header lines up with
// the rows under it.
func TestColourDoesNotShiftTheSummarysColumns(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	at := func(ms int) *time.Time { v := t0.Add(time.Duration(ms) * time.Millisecond); return &v }
	cfg := &config.Config{Releases: []config.Release{{Line: "1.13", PublicBranch: "main", Tag: "v1.13.1"}}}
	st := &Status{ID: "ASYNC-STD-SA-2026-001", T0: t0, Deadline: t0.Add(6 * time.Hour), Now: *at(9000), Stages: []*pipeline.StageRecord{
		{Name: "preflight", State: pipeline.StateDone, Ended: at(-19000)},
		{Name: "gate", State: pipeline.StateDone, Ended: at(3)},
		{Name: "push", State: pipeline.StateDone, Ended: at(80), Steps: []*pipeline.StepRecord{
			{Name: "push", State: pipeline.StateDone, First: map[string]string{"pushed_at": at(64).Format(time.RFC3339Nano)}, Public: []string{"pushed_at"}}}},
		{Name: "promote", State: pipeline.StateSkipped, Note: "no [[image]] configured"},
		{Name: "publish", State: pipeline.StateInterrupted, Ended: at(3100), Error: "interrupted 3.1s after T0, during publish demo@1.13.1"},
		{Name: "advisory", State: pipeline.StatePending},
	}}
	var plain, painted bytes.Buffer
	printSummary(&plain, st, cfg, false)
	printSummary(&painted, st, cfg, true)
	if !strings.Contains(painted.String(), "\033[") {
		t.Fatal("no colour with colour on")
	}
	if got := ansi.ReplaceAllString(painted.String(), ""); got != plain.String() {
		t.Errorf("coloured, the summary reads\n%s\nwithout colour\n%s", got, plain.String())
	}
	lines := strings.Split(plain.String(), "\n")
	col := strings.Index(lines[1], " at ") + 1
	for _, l := range lines[2:] {
		if strings.Contains(l, "14:00:00.064") && strings.Index(l, "14:00:00.064") != col {
			t.Errorf("the push's time is not under \"at\":\n%s\n%s", lines[1], l)
		}
	}
}

var ansi = regexp.MustCompile("\033\\[[0-9;]*m")

// A run the operator stopped says what is public so far, by the journal,
// or that nothing is, and why that is certain.
func TestAStoppedRunSaysWhatIsPublicSoFar(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	at := func(ms int) string { return t0.Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano) }
	cfg := &config.Config{Releases: []config.Release{{Line: "1.13", PublicBranch: "main", Tag: "v1.13.1"}, {Line: "1.12", PublicBranch: "release-1.12", Tag: "v1.12.5"}}}
	published := []*pipeline.StageRecord{
		{Name: "gate", State: pipeline.StateDone},
		{Name: "push", State: pipeline.StateDone, Steps: []*pipeline.StepRecord{{Name: "push", First: map[string]string{"pushed_at": at(52)}, Public: []string{"pushed_at"}}}},
		{Name: "publish", State: pipeline.StateInterrupted, Steps: []*pipeline.StepRecord{
			{Name: "publish demo-core@1.13.1", State: pipeline.StateInterrupted, First: map[string]string{"uploaded_at": at(47)}, Public: []string{"uploaded_at"}},
			{Name: "publish demo-core@1.12.5", State: pipeline.StateInterrupted, First: map[string]string{"uploaded_at": at(50)}, Public: []string{"uploaded_at"}},
			{Name: "publish demo@1.13.1", State: pipeline.StateInterrupted}}},
	}
	after := &pipeline.Interruption{At: t0.Add(4900 * time.Millisecond), T0: t0}
	want := "public so far:\n  push     branches main, release-1.12; tags v1.13.1, v1.12.5\n  publish  2 versions uploaded"
	if got := publicSoFar(cfg, published, after, false); got != want {
		t.Errorf("stopped during the publishes:\n%s\nwant\n%s", got, want)
	}
	before := &pipeline.Interruption{At: t0.Add(-10 * time.Second), T0: t0}
	waiting := []*pipeline.StageRecord{{Name: "gate", State: pipeline.StateInterrupted}, {Name: "push", State: pipeline.StateInterrupted}}
	if got := publicSoFar(cfg, waiting, before, false); got != "nothing is public: the run was stopped before T0" {
		t.Errorf("stopped before T0: %q", got)
	}
	preflight := []*pipeline.StageRecord{{Name: "preflight", State: pipeline.StateInterrupted}, {Name: "gate", State: pipeline.StatePending}}
	if got := publicSoFar(cfg, preflight, after, true); got != "nothing is public in the sandbox: the gate had not opened" {
		t.Errorf("a rehearsal stopped in its preflight, after its T0: %q", got)
	}
}
