package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/stages"
	"github.com/async-rs/embargo/stages/release"
)

// embargo runs the command line in-process and returns its exit code and
// output.
func embargo(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(&out, &errb, func(string) (string, bool) { return "", false }, pipeline.NewFakeClock(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)))
	code = a.execute(context.Background(), args)
	return code, out.String(), errb.String()
}

func TestUnknownCommandIsBadUsage(t *testing.T) {
	code, _, stderr := embargo(t, "rnu")
	if code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	for _, want := range []string{`unknown command "rnu"`, "run", "embargo --help"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestBadFlagNamesItsCommandOnce(t *testing.T) {
	for args, want := range map[string]string{"run --nope": "(see embargo run --help)", "--nope": "(see embargo --help)"} {
		code, _, stderr := embargo(t, strings.Fields(args)...)
		if code != ExitUsage || !strings.Contains(stderr, want) || strings.Contains(stderr, "embargo embargo") {
			t.Errorf("%s: exit %d, stderr %q, want exit 2 and %q", args, code, stderr, want)
		}
	}
}

func TestVersionFlagPrintsTheVersion(t *testing.T) {
	_, want, _ := embargo(t, "version")
	code, stdout, stderr := embargo(t, "--version")
	if code != ExitOK || stdout != want || stderr != "" {
		t.Errorf("--version: exit %d, stdout %q, stderr %q; want exit 0 and %q", code, stdout, stderr, want)
	}
	if !strings.HasPrefix(want, "embargo "+Version+" ") {
		t.Errorf("version prints %q", want)
	}
}

// The shell completes --only and --from with the stage names.
func TestStageFlagsCompleteStageNames(t *testing.T) {
	for _, flag := range []string{"--only", "--from"} {
		_, stdout, _ := embargo(t, "__complete", "run", flag, "pu")
		var names []string
		for _, l := range strings.Split(stdout, "\n") {
			if name, _, ok := strings.Cut(l, "\t"); ok {
				names = append(names, name)
			}
		}
		if got := strings.Join(names, " "); got != "push publish" {
			t.Errorf("%s pu completes to %q, want \"push publish\":\n%s", flag, got, stdout)
		}
	}
}

// status exits 1 when the journal holds a failed stage, as the run did, and
// 0 when nothing failed.
func TestStatusExits1WhenAStageFailed(t *testing.T) {
	cfgFile := planCIConfig(t, "2026-12-01T14:00:00Z")
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	writeJournal := func(failed string) {
		t.Helper()
		j, err := pipeline.OpenJournal("", embargoOf(cfg), release.Names(stages.All(release.Clients{})), nil)
		if err != nil {
			t.Fatal(err)
		}
		snap := j.Snapshot()
		for _, s := range snap.Stages {
			s.State = pipeline.StateDone
			if s.Name == failed {
				s.State, s.Error = pipeline.StateFailed, "cargo publish failed"
			}
		}
		b, _ := json.Marshal(snap)
		state := filepath.Join(filepath.Dir(cfgFile), ".embargo")
		if err := os.MkdirAll(state, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(state, "journal.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeJournal("publish")
	for _, args := range [][]string{{"status"}, {"status", "--json"}} {
		if code, stdout, stderr := embargo(t, append(args, "-c", cfgFile)...); code != ExitFailed || !strings.Contains(stdout, "publish") {
			t.Errorf("%v with publish failed: exit %d, want %d\n%s%s", args, code, ExitFailed, stdout, stderr)
		}
	}
	writeJournal("")
	if code, stdout, stderr := embargo(t, "status", "-c", cfgFile); code != ExitOK {
		t.Errorf("status with every stage done: exit %d\n%s%s", code, stdout, stderr)
	}
}

// render --json lists every file it wrote, each with its kind, path, size
// and digest, as one JSON object.
func TestRenderJSONListsTheFilesWritten(t *testing.T) {
	reg, err := registry.Start("", registry.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	config := planCIConfig(t, "2026-12-01T14:00:00Z")
	f, err := os.OpenFile(config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[registry]\nindex = %q\n", reg.IndexURL())
	f.Close()
	dir := filepath.Join(t.TempDir(), "review")
	code, stdout, stderr := embargo(t, "render", "--json", "-o", dir, "-c", config)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	var rep struct {
		ID    string `json:"id"`
		Files []struct {
			Kind, Path, Sha256 string
			Bytes              int
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("render --json is not one JSON object: %v\n%s", err, stdout)
	}
	var kinds []string
	for _, f := range rep.Files {
		kinds = append(kinds, f.Kind)
		b, err := os.ReadFile(f.Path)
		if err != nil {
			t.Errorf("%s: %v", f.Kind, err)
			continue
		}
		sum := sha256.Sum256(b)
		if len(b) != f.Bytes || hex.EncodeToString(sum[:]) != f.Sha256 || !strings.HasPrefix(f.Path, dir+string(filepath.Separator)) {
			t.Errorf("%s: listed as %s (%d bytes, %s), the file has %d bytes", f.Kind, f.Path, f.Bytes, f.Sha256, len(b))
		}
	}
	if rep.ID != "DEMO-SA-2026-001" || strings.Join(kinds, " ") != "post rustsec osv mail" {
		t.Errorf("render --json: id %q, files %v", rep.ID, kinds)
	}
}

// plan says loudly when T0 is in the past, and what a run will then do.
func TestPlanSaysLoudlyWhenT0IsInThePast(t *testing.T) {
	for at, past := range map[string]bool{"2026-11-19T14:00:00Z": true, "2026-11-21T14:00:00Z": false} {
		_, out, _ := embargo(t, "plan", "-c", planCIConfig(t, at))
		if got := strings.Contains(out, "T0 IS IN THE PAST (19h ago)"); got != past {
			t.Errorf("T0 %s: plan says T0 is in the past: %v, want %v:\n%s", at, got, past, out)
		}
		if past && !strings.Contains(out, "embargo run --late") {
			t.Errorf("plan does not say how a late release is confirmed:\n%s", out)
		}
	}
}

// plan judges a T0 in the past by the rule run applies to what the state
// directory shows: a release whose push the journal records is resumed,
// not refused, and plan says so instead of calling T0 a mistake.
func TestPlanSaysARunResumesAReleaseBegunBeforeIt(t *testing.T) {
	cfgFile := planCIConfig(t, "2026-11-19T14:00:00Z")
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	j, err := pipeline.OpenJournal("", embargoOf(cfg), release.Names(stages.All(release.Clients{})), nil)
	if err != nil {
		t.Fatal(err)
	}
	snap := j.Snapshot()
	push := snap.Stage("push")
	push.State = pipeline.StateDone
	push.Steps = []*pipeline.StepRecord{{Name: "push", State: pipeline.StateDone, First: map[string]string{"pushed_at": "2026-11-19T14:00:01.25Z"}}}
	b, _ := json.Marshal(snap)
	state := filepath.Join(filepath.Dir(cfgFile), ".embargo")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "journal.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, out, _ := embargo(t, "plan", "-c", cfgFile)
	if !strings.Contains(out, "the release began at T0+1.25s (push: pushed_at 2026-11-19T14:00:01.250Z): a run resumes it") || strings.Contains(out, "IN THE PAST") {
		t.Errorf("plan of a release begun at T0:\n%s", out)
	}
	_, out, _ = embargo(t, "plan", "--json", "-c", cfgFile)
	var rep struct {
		Past      bool   `json:"t0_in_past"`
		LateStart string `json:"late_start"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.Past || rep.LateStart != "resume" {
		t.Errorf("plan --json: %+v, %v, want t0_in_past and late_start resume:\n%s", rep, err, out)
	}
}

// plan --json is the plan as one object: the stages in order with when
// each runs, the lines, the patched ranges and the registry's versions
// classified; --ci, which prints lines to paste, refuses it.
func TestPlanJSONIsThePlanAsOneObject(t *testing.T) {
	reg, err := registry.Start("", registry.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if err := reg.Seed(registry.IndexEntry{Name: "demo-core", Vers: "1.12.4", Cksum: strings.Repeat("ab", 32)}, nil); err != nil {
		t.Fatal(err)
	}
	config := planCIConfig(t, "2026-12-01T14:00:00Z")
	f, err := os.OpenFile(config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[registry]\nindex = %q\n", reg.IndexURL())
	f.Close()
	code, stdout, stderr := embargo(t, "plan", "--json", "-c", config)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	var rep planReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("plan --json is not one JSON object: %v\n%s", err, stdout)
	}
	var stages []string
	for _, s := range rep.Stages {
		stages = append(stages, s.Name+"@"+s.When)
	}
	if got := strings.Join(stages, " "); !strings.HasPrefix(got, "preflight@before T0 gate@until T0 push@at T0") || !strings.Contains(got, "advisory@after publish") {
		t.Errorf("stages %s", got)
	}
	if rep.ID != "DEMO-SA-2026-001" || !rep.T0.Equal(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)) || len(rep.Lines) == 0 || len(rep.Patched) != len(rep.Lines) {
		t.Errorf("plan: %+v", rep)
	}
	if len(rep.Versions) != 1 || rep.Versions[0].Version != "1.12.4" || rep.Versions[0].Status == "" {
		t.Errorf("versions %+v, want 1.12.4 classified", rep.Versions)
	}
	if code, _, _ := embargo(t, "plan", "--ci", "--json", "-c", config); code != ExitUsage {
		t.Errorf("plan --ci --json: exit %d, want %d", code, ExitUsage)
	}
}

// --json is never ignored: a command with output for scripts prints JSON,
// the others refuse the flag as bad usage.
func TestJSONIsHonouredOrRefused(t *testing.T) {
	code, stdout, _ := embargo(t, "version", "--json")
	var v map[string]string
	if code != ExitOK || json.Unmarshal([]byte(stdout), &v) != nil || v["version"] == "" || v["go"] == "" {
		t.Errorf("version --json: exit %d, %q", code, stdout)
	}
	for _, args := range [][]string{{"init", "--json"}, {"sandbox", "demo", "--json", "--dir", t.TempDir()}} {
		if code, _, stderr := embargo(t, args...); code != ExitUsage || !strings.Contains(stderr, "has no --json output") {
			t.Errorf("%v: exit %d, %q; want it refused with exit %d", args, code, stderr, ExitUsage)
		}
	}
}

// sandbox serve --flavor names crates.io or Gitea, and with either a token
// the registry wants: anything else is bad usage, before anything starts.
func TestSandboxServeFlavorWantsAKnownOneAndAToken(t *testing.T) {
	dir := t.TempDir()
	for args, want := range map[string]string{
		"--flavor forgejo": `want one of ["crates.io" "gitea"]`,
		"--flavor gitea":   "--flavor gitea needs --token",
	} {
		code, _, stderr := embargo(t, append([]string{"sandbox", "serve", "--dir", dir}, strings.Fields(args)...)...)
		if code != ExitUsage || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 saying %q", args, code, stderr, want)
		}
	}
}
