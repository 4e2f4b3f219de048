package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
)

// fakeStage is a stage whose behaviour the test supplies.
type fakeStage struct {
	name string
	run  func(ctx context.Context, r *pipeline.Run) error
	ran  *[]string
}

func (s *fakeStage) Name() string    { return s.name }
func (s *fakeStage) Summary() string { return "the " + s.name + " stage" }
func (s *fakeStage) Run(ctx context.Context, r *pipeline.Run) error {
	if s.ran != nil {
		*s.ran = append(*s.ran, s.name)
	}
	if s.run == nil {
		return nil
	}
	return s.run(ctx, r)
}

// optionalStage is skipped, with a reason, when not configured.
type optionalStage struct {
	fakeStage
	reason string
}

func (s *optionalStage) Skip() string { return s.reason }

var stageNames = []string{"preflight", "gate", "push", "publish", "advisory", "verify"}

// pipelineOf makes the usual stages, all succeeding and recording that they
// ran; override replaces the behaviour of the named ones.
func pipelineOf(ran *[]string, override map[string]func(context.Context, *pipeline.Run) error) *pipeline.Engine {
	e := &pipeline.Engine{}
	for _, n := range stageNames {
		e.Stages = append(e.Stages, &fakeStage{name: n, run: override[n], ran: ran})
	}
	return e
}

func testEmbargo() pipeline.Embargo {
	return pipeline.Embargo{ID: "ASYNC-STD-SA-2026-001", T0: testT0, Window: 6 * time.Hour}
}

type testRun struct {
	*pipeline.Run
	path string
	out  *bytes.Buffer
}

// newRun opens the journal in a fresh state folder, as `embargo run` does.
func newRun(t *testing.T, cfg pipeline.Embargo, e *pipeline.Engine, secrets *pipeline.Secrets) *testRun {
	t.Helper()
	state := t.TempDir()
	return openRun(t, cfg, e, secrets, filepath.Join(state, "journal.json"))
}

func openRun(t *testing.T, cfg pipeline.Embargo, e *pipeline.Engine, secrets *pipeline.Secrets, path string) *testRun {
	t.Helper()
	if secrets == nil {
		secrets = pipeline.NewSecrets(nil)
	}
	clock := pipeline.NewFakeClock(cfg.T0.Add(time.Second))
	j, err := pipeline.OpenJournal(path, cfg, e.Names(), secrets.Scrub)
	if err != nil {
		t.Fatal(err)
	}
	out := &bytes.Buffer{}
	return &testRun{
		Run: &pipeline.Run{
			Gate:    &pipeline.Gate{T0: cfg.T0, Window: cfg.Window, Clock: clock},
			Journal: j,
			Out:     pipeline.NewReporter(out, false, clock, secrets.Scrub),
			Secrets: secrets,
		},
		path: path,
		out:  out,
	}
}

// onDisk is the journal as `embargo status` reads it from the file.
func onDisk(t *testing.T, path string) *pipeline.Snapshot {
	t.Helper()
	j, err := pipeline.ReadJournal(path)
	if err != nil {
		t.Fatalf("read journal back: %v", err)
	}
	return j.Snapshot()
}

// reread is the journal at path as a new run reads it.
func reread(t *testing.T, path string) *pipeline.Journal {
	t.Helper()
	j, err := pipeline.ReadJournal(path)
	if err != nil {
		t.Fatalf("read journal back: %v", err)
	}
	return j
}

func states(j *pipeline.Snapshot) map[string]string {
	m := map[string]string{}
	for _, s := range j.Stages {
		m[s.Name] = s.State
	}
	return m
}

func TestJournalOfAFreshReleaseHasEveryStagePendingInOrder(t *testing.T) {
	cfg := testEmbargo()
	j, err := pipeline.OpenJournal(filepath.Join(t.TempDir(), "journal.json"), cfg, stageNames, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Snapshot().Stages) != len(stageNames) {
		t.Fatalf("%d stages, want %d", len(j.Snapshot().Stages), len(stageNames))
	}
	for i, s := range j.Snapshot().Stages {
		if s.Name != stageNames[i] || s.State != pipeline.StatePending || s.Started != nil {
			t.Errorf("stage %d = %+v, want %s pending", i, s, stageNames[i])
		}
	}
	if j.Snapshot().ID != cfg.ID || !j.Snapshot().T0.Equal(testT0) || j.Snapshot().Window != "6h0m0s" {
		t.Errorf("journal is for %s at %v (window %s)", j.Snapshot().ID, j.Snapshot().T0, j.Snapshot().Window)
	}
}

func TestJournalRecordsEachStepOnDiskBeforeAndAfterItRuns(t *testing.T) {
	var ran []string
	var r *testRun
	var sawDuring *pipeline.Snapshot
	e := pipelineOf(&ran, map[string]func(context.Context, *pipeline.Run) error{
		"push": func(ctx context.Context, run *pipeline.Run) error {
			_, err := pipeline.Step(run, pushRefs, func(res *remoteResult) error {
				sawDuring = onDisk(t, r.path) // what a crash here would leave
				res.Remote = "https://github.com/async-rs/async-std.git"
				return nil
			})
			return err
		},
	})
	r = newRun(t, testEmbargo(), e, nil)
	if err := e.Execute(context.Background(), r.Run, pipeline.Selection{}); err != nil {
		t.Fatal(err)
	}

	push := sawDuring.Stage("push")
	if push == nil || push.State != pipeline.StateRunning || push.Started == nil {
		t.Fatalf("during the step the journal held push = %+v, want running", push)
	}
	if len(push.Steps) != 1 || push.Steps[0].Name != "push refs" || push.Steps[0].State != pipeline.StateRunning || push.Steps[0].Started == nil {
		t.Errorf("during the step the journal held steps %+v, want \"push refs\" running", push.Steps)
	}
	if got := states(sawDuring); got["preflight"] != pipeline.StateDone || got["publish"] != pipeline.StatePending {
		t.Errorf("during push the journal held %v, want earlier stages done and later ones pending", got)
	}

	after := onDisk(t, r.path)
	for _, s := range after.Stages {
		if s.State != pipeline.StateDone || s.Started == nil || s.Ended == nil {
			t.Errorf("after the run %s = %+v, want done with times", s.Name, s)
		}
	}
	step := after.Stage("push").Steps[0]
	if step.State != pipeline.StateDone || step.Ended == nil || step.Summary != "pushed to https://github.com/async-rs/async-std.git" {
		t.Errorf("after the run the step = %+v, want done with its result", step)
	}

	// A later run reads what this one handed on.
	again, err := pipeline.OpenJournal(r.path, testEmbargo(), e.Names(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := pipeline.Load(again, pushRefs); !ok || got.Remote != "https://github.com/async-rs/async-std.git" {
		t.Errorf("reopened journal result = %+v, %v", got, ok)
	}
	if again.Snapshot().Stage("verify").State != pipeline.StateDone {
		t.Errorf("reopened journal lost the stage states: %v", states(again.Snapshot()))
	}
}

// The keys of the steps the tests record.
var (
	pushRefs        = pipeline.Key[remoteResult]{Stage: "push", Step: "push refs"}
	publishAsyncStd = pipeline.Key[commandResult]{Stage: "publish", Step: "publish async-std"}
)

// remoteResult and commandResult are step results as a stage's types are.
type remoteResult struct {
	Remote string `json:"remote"`
}

func (r remoteResult) Summary() string { return "pushed to " + r.Remote }

type commandResult struct {
	Command string   `json:"command"`
	Index   []string `json:"index"`
}

func (c commandResult) Summary() string { return c.Command }

func TestJournalOfAnotherReleaseIsRefused(t *testing.T) {
	e := pipelineOf(nil, nil)
	r := newRun(t, testEmbargo(), e, nil)
	if err := e.Execute(context.Background(), r.Run, pipeline.Selection{Only: "preflight"}); err != nil {
		t.Fatal(err)
	}

	otherID := testEmbargo()
	otherID.ID = "ASYNC-STD-SA-2026-002"
	_, err := pipeline.OpenJournal(r.path, otherID, e.Names(), nil)
	if err == nil || !strings.Contains(err.Error(), "ASYNC-STD-SA-2026-001") || !strings.Contains(err.Error(), "ASYNC-STD-SA-2026-002") || !strings.Contains(err.Error(), "--state") {
		t.Errorf("journal of another id: %v, want a refusal naming both ids and --state", err)
	}

	otherT0 := testEmbargo()
	otherT0.T0 = testT0.Add(24 * time.Hour)
	if _, err := pipeline.OpenJournal(r.path, otherT0, e.Names(), nil); err == nil {
		t.Error("journal of another T0 was accepted")
	}

	sameT0OtherZone := testEmbargo()
	sameT0OtherZone.T0 = testT0.In(time.FixedZone("CET", 3600))
	if _, err := pipeline.OpenJournal(r.path, sameT0OtherZone, e.Names(), nil); err != nil {
		t.Errorf("the same instant written with another offset was refused: %v", err)
	}
}

func TestCorruptJournalSaysToMoveItAside(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.json")
	if err := os.WriteFile(path, []byte(`{"version": 1, "id": "ASYNC-STD-SA-2026-001", "stages": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := pipeline.OpenJournal(path, testEmbargo(), stageNames, nil)
	if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), "move it aside") || !strings.Contains(err.Error(), path) {
		t.Errorf("corrupt journal: %v, want an error naming it and saying to move it aside", err)
	}
}

func TestJournalAndOutputNeverHoldASecret(t *testing.T) {
	const token = "cioS3cr3tT0k3nV4lu3F0rT3st1ngXyZ0123"
	secrets := pipeline.NewSecrets(func(name string) (string, bool) {
		return token, name == "CARGO_REGISTRY_TOKEN"
	})
	boom := errors.New("upload refused")
	e := pipelineOf(nil, map[string]func(context.Context, *pipeline.Run) error{
		"publish": func(ctx context.Context, run *pipeline.Run) error {
			tok, ok := run.Secrets.Get("CARGO_REGISTRY_TOKEN")
			if !ok {
				t.Fatal("token not found")
			}
			run.Note("used token %s", tok)
			_, err := pipeline.Step(run, publishAsyncStd, func(res *commandResult) error {
				res.Command = "cargo publish --token " + tok
				res.Index = []string{"https://ci:" + "pw-in-url@index.example.org/"}
				return errors.Join(boom, errors.New("registry said: bad token "+tok))
			})
			return err
		},
	})
	r := newRun(t, testEmbargo(), e, secrets)
	err := e.Execute(context.Background(), r.Run, pipeline.Selection{})
	if !errors.Is(err, boom) {
		t.Fatalf("Execute = %v, want the stage's error", err)
	}
	b, _ := os.ReadFile(r.path)
	for _, leak := range []string{token, "pw-in-url"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("journal holds %q:\n%s", leak, b)
		}
		if strings.Contains(r.out.String(), leak) {
			t.Errorf("output holds %q:\n%s", leak, r.out)
		}
	}
	j := onDisk(t, r.path)
	step := j.Stage("publish").Steps[0]
	if got, _ := pipeline.Load(reread(t, r.path), publishAsyncStd); got.Command != "cargo publish --token ***" || !strings.Contains(step.Error, "bad token ***") {
		t.Errorf("step = %+v, want the token replaced, the rest kept", step)
	}
	if !strings.Contains(j.Stage("publish").Error, "upload refused") {
		t.Errorf("stage error %q lost the cause", j.Stage("publish").Error)
	}
}

func TestRunFromAStageRunsItAndTheRest(t *testing.T) {
	var ran []string
	e := pipelineOf(&ran, nil)
	r := newRun(t, testEmbargo(), e, nil)
	if err := e.Execute(context.Background(), r.Run, pipeline.Selection{From: "publish"}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ran, ",") != "publish,advisory,verify" {
		t.Errorf("ran %v, want publish, advisory, verify", ran)
	}
	got := states(onDisk(t, r.path))
	if got["push"] != pipeline.StatePending || got["publish"] != pipeline.StateDone || got["verify"] != pipeline.StateDone {
		t.Errorf("journal = %v", got)
	}
}

func TestRunOnlyAStageRunsJustThatOne(t *testing.T) {
	var ran []string
	e := pipelineOf(&ran, nil)
	r := newRun(t, testEmbargo(), e, nil)
	if err := e.Execute(context.Background(), r.Run, pipeline.Selection{Only: "advisory"}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ran, ",") != "advisory" {
		t.Errorf("ran %v, want advisory only", ran)
	}
	for name, state := range states(onDisk(t, r.path)) {
		if (name == "advisory") != (state == pipeline.StateDone) {
			t.Errorf("%s is %s", name, state)
		}
	}
}

func TestRunOfAnUnknownStageIsAUsageErrorListingTheStages(t *testing.T) {
	var ran []string
	e := pipelineOf(&ran, nil)
	r := newRun(t, testEmbargo(), e, nil)
	for _, sel := range []pipeline.Selection{{From: "publsh"}, {Only: "deploy"}} {
		err := e.Execute(context.Background(), r.Run, sel)
		var ue *pipeline.UsageError
		if !errors.As(err, &ue) {
			t.Fatalf("%+v: %v, want *UsageError", sel, err)
		}
		if !strings.Contains(err.Error(), strings.Join(stageNames, ", ")) {
			t.Errorf("%+v: %q does not list the stages", sel, err)
		}
	}
	if len(ran) != 0 {
		t.Errorf("ran %v after a usage error", ran)
	}
	if _, err := os.Stat(r.path); !os.IsNotExist(err) {
		t.Error("a usage error wrote the journal")
	}
}

func TestRunFromAndOnlyTogetherAreRefused(t *testing.T) {
	var ran []string
	e := pipelineOf(&ran, nil)
	r := newRun(t, testEmbargo(), e, nil)
	err := e.Execute(context.Background(), r.Run, pipeline.Selection{From: "push", Only: "publish"})
	var ue *pipeline.UsageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--from") || !strings.Contains(err.Error(), "--only") {
		t.Errorf("got %v, want a usage error naming --from and --only", err)
	}
	if len(ran) != 0 {
		t.Errorf("ran %v", ran)
	}
}

func TestFailingStageStopsTheRunAndSaysHowToResume(t *testing.T) {
	var ran []string
	boom := errors.New("registry returned 503")
	publishFails := true
	e := pipelineOf(&ran, map[string]func(context.Context, *pipeline.Run) error{
		"publish": func(ctx context.Context, r *pipeline.Run) error {
			if publishFails {
				return boom
			}
			return nil
		},
	})
	cfg := testEmbargo()
	r := newRun(t, cfg, e, nil)
	err := e.Execute(context.Background(), r.Run, pipeline.Selection{})
	var se *pipeline.StageError
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want *StageError", err)
	}
	if se.Stage != "publish" || !errors.Is(err, boom) {
		t.Errorf("StageError = %+v, want publish wrapping the cause", se)
	}
	if se.From != "publish" {
		t.Errorf("a re-run starts at %q, want publish", se.From)
	}
	if !strings.Contains(err.Error(), "registry returned 503") {
		t.Errorf("error %q does not say what failed and what to run", err)
	}
	if strings.Join(ran, ",") != "preflight,gate,push,publish" {
		t.Errorf("ran %v, want nothing after publish", ran)
	}
	j := onDisk(t, r.path)
	got := states(j)
	want := map[string]string{"preflight": "done", "gate": "done", "push": "done", "publish": "failed", "advisory": "pending", "verify": "pending"}
	for n, s := range want {
		if got[n] != s {
			t.Errorf("%s is %s, want %s", n, got[n], s)
		}
	}
	if !strings.Contains(j.Stage("publish").Error, "registry returned 503") || j.Stage("publish").Ended == nil {
		t.Errorf("publish record = %+v, want the error and an end time", j.Stage("publish"))
	}
	if !strings.Contains(r.out.String(), "registry returned 503") {
		t.Errorf("output does not show the failure:\n%s", r.out)
	}

	// The operator follows the advice: a re-run from publish, against the
	// same journal, completes.
	publishFails = false
	ran = nil
	r2 := openRun(t, cfg, e, nil, r.path)
	if err := e.Execute(context.Background(), r2.Run, pipeline.Selection{From: se.Stage}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ran, ",") != "publish,advisory,verify" {
		t.Errorf("re-run ran %v", ran)
	}
	for n, s := range states(onDisk(t, r.path)) {
		if s != pipeline.StateDone {
			t.Errorf("after the re-run %s is %s", n, s)
		}
	}
	if e := onDisk(t, r.path).Stage("publish").Error; e != "" {
		t.Errorf("publish still records the old error %q", e)
	}
}

// A failure whose way out is an earlier stage (a branch moved since
// preflight) makes the re-run start there, not at the stage that failed.
func TestARerunErrorMovesWhereTheReRunStarts(t *testing.T) {
	moved := errors.New("public main moved since preflight")
	e := pipelineOf(nil, map[string]func(context.Context, *pipeline.Run) error{
		"push": func(context.Context, *pipeline.Run) error {
			return fmt.Errorf("push: %w", pipeline.RerunFrom("preflight", moved))
		},
	})
	r := newRun(t, testEmbargo(), e, nil)
	var se *pipeline.StageError
	err := e.Execute(context.Background(), r.Run, pipeline.Selection{})
	if !errors.As(err, &se) || se.Stage != "push" || se.From != "preflight" || !errors.Is(err, moved) {
		t.Fatalf("got %v (%+v), want push failed, re-run from preflight", err, se)
	}
}

func TestOptionalStageNotConfiguredIsRecordedSkipped(t *testing.T) {
	var ran []string
	e := pipelineOf(&ran, nil)
	promote := &optionalStage{fakeStage: fakeStage{name: "promote", ran: &ran}, reason: "no [[image]] configured"}
	e.Stages = append(e.Stages[:3:3], append([]pipeline.Stage{promote}, e.Stages[3:]...)...)
	r := newRun(t, testEmbargo(), e, nil)
	if err := e.Execute(context.Background(), r.Run, pipeline.Selection{}); err != nil {
		t.Fatal(err)
	}
	for _, n := range ran {
		if n == "promote" {
			t.Error("a skipped stage ran")
		}
	}
	rec := onDisk(t, r.path).Stage("promote")
	if rec == nil || rec.State != pipeline.StateSkipped || rec.Note != "no [[image]] configured" {
		t.Errorf("promote = %+v, want skipped with its reason", rec)
	}
	if !strings.Contains(r.out.String(), "no [[image]] configured") {
		t.Errorf("output does not say why promote was skipped:\n%s", r.out)
	}
}

func TestOptionalStageThatIsConfiguredRuns(t *testing.T) {
	var ran []string
	promote := &optionalStage{fakeStage: fakeStage{name: "promote", ran: &ran}}
	e := &pipeline.Engine{Stages: []pipeline.Stage{promote}}
	r := newRun(t, testEmbargo(), e, nil)
	if err := e.Execute(context.Background(), r.Run, pipeline.Selection{}); err != nil {
		t.Fatal(err)
	}
	if len(ran) != 1 || onDisk(t, r.path).Stage("promote").State != pipeline.StateDone {
		t.Errorf("ran %v, journal %v", ran, states(onDisk(t, r.path)))
	}
}

func TestPanickingStageIsRecordedAsAFailure(t *testing.T) {
	var ran []string
	e := pipelineOf(&ran, map[string]func(context.Context, *pipeline.Run) error{
		"push": func(context.Context, *pipeline.Run) error {
			panic("a bug in the stage")
		},
	})
	r := newRun(t, testEmbargo(), e, nil)
	err := e.Execute(context.Background(), r.Run, pipeline.Selection{})
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != "push" || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("got %v, want push failed with an internal error", err)
	}
	got := states(onDisk(t, r.path))
	if got["push"] != pipeline.StateFailed || got["publish"] != pipeline.StatePending {
		t.Errorf("journal = %v, want push failed and publish pending", got)
	}
	if strings.Contains(strings.Join(ran, ","), "publish") {
		t.Errorf("ran %v after the panic", ran)
	}
}

// BeforeStage sees each stage that runs as it starts, recorded running in
// the journal on disk, and no skipped stage.
func TestBeforeStageIsCalledAsEachStageStarts(t *testing.T) {
	var ran, before []string
	e := pipelineOf(&ran, nil)
	promote := &optionalStage{fakeStage: fakeStage{name: "promote", ran: &ran}, reason: "no [[image]] configured"}
	e.Stages = append(e.Stages[:3:3], append([]pipeline.Stage{promote}, e.Stages[3:]...)...)
	r := newRun(t, testEmbargo(), e, nil)
	e.BeforeStage = func(run *pipeline.Run) {
		name := run.Stage()
		before = append(before, name)
		if len(ran) != len(before)-1 {
			t.Errorf("BeforeStage for %s after the stage ran", name)
		}
		if rec := onDisk(t, r.path).Stage(name); rec == nil || rec.State != pipeline.StateRunning {
			t.Errorf("BeforeStage for %s: journal on disk says %+v, want running", name, rec)
		}
	}
	if err := e.Execute(context.Background(), r.Run, pipeline.Selection{From: "gate"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"gate", "push", "publish", "advisory", "verify"}; strings.Join(before, " ") != strings.Join(want, " ") {
		t.Errorf("BeforeStage saw %v, want %v", before, want)
	}
}

// graphStage is a stage with declared needs.
type graphStage struct {
	fakeStage
	needs []string
}

func (s *graphStage) Needs() []string { return s.needs }

func graphOf(stages ...*graphStage) *pipeline.Engine {
	e := &pipeline.Engine{}
	for _, s := range stages {
		e.Stages = append(e.Stages, s)
	}
	return e
}

func stage(name string, run func(context.Context, *pipeline.Run) error, needs ...string) *graphStage {
	return &graphStage{fakeStage: fakeStage{name: name, run: run}, needs: needs}
}

// Push and publish need only preflight: each is started while the other
// runs, and verify, which needs both, only after both.
func TestStagesThatNeedNothingOfEachOtherRunSideBySide(t *testing.T) {
	pushStarted, publishStarted := make(chan struct{}), make(chan struct{})
	var verifySaw []bool
	meet := func(mine, other chan struct{}) func(context.Context, *pipeline.Run) error {
		return func(context.Context, *pipeline.Run) error {
			close(mine)
			select {
			case <-other:
				return nil
			case <-time.After(5 * time.Second):
				return errors.New("ran alone: the other stage never started")
			}
		}
	}
	e := graphOf(
		stage("preflight", nil),
		stage("push", meet(pushStarted, publishStarted), "preflight"),
		stage("publish", meet(publishStarted, pushStarted), "preflight"),
		stage("verify", func(context.Context, *pipeline.Run) error {
			verifySaw = append(verifySaw, isClosed(pushStarted), isClosed(publishStarted))
			return nil
		}, "push", "publish"),
	)
	r := newRun(t, testEmbargo(), e, nil)
	if err := e.Execute(context.Background(), r.Run, pipeline.Selection{}); err != nil {
		t.Fatal(err)
	}
	if len(verifySaw) != 2 || !verifySaw[0] || !verifySaw[1] {
		t.Errorf("verify ran before push and publish: %v", verifySaw)
	}
	j := onDisk(t, r.path)
	push, publish := j.Stage("push"), j.Stage("publish")
	if push.Started.After(*publish.Ended) || publish.Started.After(*push.Ended) {
		t.Errorf("the journal does not show push and publish side by side: push %v..%v, publish %v..%v", push.Started, push.Ended, publish.Started, publish.Ended)
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// A failed push stops verify, which needs it, not publish and advisory,
// which do not; the advice resumes from push.
func TestAFailedStageStopsOnlyTheStagesThatNeedIt(t *testing.T) {
	var ran []string
	rec := func(name string, err error) func(context.Context, *pipeline.Run) error {
		return func(context.Context, *pipeline.Run) error {
			ran = append(ran, name) // the stages below run one at a time
			return err
		}
	}
	pushStarted := make(chan struct{})
	e := graphOf(
		stage("preflight", nil),
		stage("push", func(ctx context.Context, r *pipeline.Run) error {
			close(pushStarted)
			return errors.New("remote hung up")
		}, "preflight"),
		stage("publish", func(ctx context.Context, r *pipeline.Run) error {
			<-pushStarted
			return rec("publish", nil)(ctx, r)
		}, "preflight"),
		stage("advisory", rec("advisory", nil), "publish"),
		stage("verify", rec("verify", nil), "push", "publish", "advisory"),
	)
	r := newRun(t, testEmbargo(), e, nil)
	err := e.Execute(context.Background(), r.Run, pipeline.Selection{})
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != "push" || se.From != "push" {
		t.Fatalf("got %v, want push failed with the advice to resume from it", err)
	}
	if strings.Join(ran, ",") != "publish,advisory" {
		t.Errorf("ran %v, want publish and advisory, and not verify", ran)
	}
	want := map[string]string{"preflight": "done", "push": "failed", "publish": "done", "advisory": "done", "verify": "pending"}
	for n, s := range states(onDisk(t, r.path)) {
		if want[n] != s {
			t.Errorf("%s is %s, want %s", n, s, want[n])
		}
	}
}

// Two failures at once: the error names the first in the list and carries
// both causes.
func TestTwoFailedStagesAreBothReported(t *testing.T) {
	e := graphOf(
		stage("preflight", nil),
		stage("push", func(context.Context, *pipeline.Run) error { return errors.New("remote hung up") }, "preflight"),
		stage("publish", func(context.Context, *pipeline.Run) error { return errors.New("registry answered 503") }, "preflight"),
	)
	r := newRun(t, testEmbargo(), e, nil)
	err := e.Execute(context.Background(), r.Run, pipeline.Selection{})
	var se *pipeline.StageError
	if !errors.As(err, &se) || se.Stage != "push" || se.From != "push" {
		t.Fatalf("got %v, want push named first, and a re-run from it", err)
	}
	for _, want := range []string{"remote hung up", "\nstage publish failed: registry answered 503"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Count(err.Error(), "stage publish failed") != 1 {
		t.Errorf("error %q names publish's failure more than once", err)
	}
}

// A stage that waits for the gate of its run makes its write only once
// the gate is done; run alone, it does not wait (and the gate's own check
// refuses what is early).
func TestWaitForWaitsForTheGateOfTheRunOnly(t *testing.T) {
	// The gate runs until push has asked for it, so that push's wait is
	// exercised whichever of the two starts first.
	gateOpen, pushAsked := make(chan struct{}), make(chan struct{})
	var wroteAfterGate []bool
	var askedWhileGateRan error
	push := func(ctx context.Context, r *pipeline.Run) error {
		// A wait bound to end at once: it ends with its context while
		// the gate runs, and at once, without error, when there is no
		// gate to wait for.
		gone, cancel := context.WithCancel(ctx)
		cancel()
		askedWhileGateRan = r.WaitFor(gone, "gate")
		close(pushAsked)
		if err := r.WaitFor(ctx, "gate"); err != nil {
			return err
		}
		wroteAfterGate = append(wroteAfterGate, isClosed(gateOpen))
		return nil
	}
	e := graphOf(
		stage("preflight", nil),
		stage("gate", func(ctx context.Context, _ *pipeline.Run) error {
			select {
			case <-pushAsked:
			case <-ctx.Done():
				return ctx.Err()
			}
			close(gateOpen)
			return nil
		}, "preflight"),
		stage("push", push, "preflight"),
	)
	r := newRun(t, testEmbargo(), e, nil)
	if err := e.Execute(context.Background(), r.Run, pipeline.Selection{}); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(askedWhileGateRan, context.Canceled) {
		t.Errorf("while the gate ran, push's wait for it returned %v; want it waiting until its context ended", askedWhileGateRan)
	}
	if len(wroteAfterGate) != 1 || !wroteAfterGate[0] {
		t.Fatalf("push wrote before the gate was done: %v", wroteAfterGate)
	}

	gateOpen, pushAsked = make(chan struct{}), make(chan struct{})
	wroteAfterGate = nil
	if err := e.Execute(context.Background(), r.Run, pipeline.Selection{Only: "push"}); err != nil {
		t.Fatal(err)
	}
	if askedWhileGateRan != nil || len(wroteAfterGate) != 1 || wroteAfterGate[0] {
		t.Errorf("push run alone waited for a gate that is not part of the run: %v, %v", askedWhileGateRan, wroteAfterGate)
	}
}

func TestWaitForAFailedGateFails(t *testing.T) {
	wrote := false
	e := graphOf(
		stage("gate", func(context.Context, *pipeline.Run) error { return errors.New("interrupted while waiting for T0") }),
		stage("push", func(ctx context.Context, r *pipeline.Run) error {
			if err := r.WaitFor(ctx, "gate"); err != nil {
				return err
			}
			wrote = true
			return nil
		}),
	)
	r := newRun(t, testEmbargo(), e, nil)
	err := e.Execute(context.Background(), r.Run, pipeline.Selection{})
	if err == nil || !strings.Contains(err.Error(), "stage gate did not finish") || wrote {
		t.Errorf("got %v (wrote %v), want push refused because the gate failed", err, wrote)
	}
}
