package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/stages"
	core "github.com/async-rs/embargo/stages/release"
)

// The CI templates users copy, checked for what a release job needs and
// run, command by command, against a generated world.

const (
	githubTemplate = "../ci/github-actions.yml"
	gitlabTemplate = "../ci/gitlab-ci.yml"
)

// ciSecrets are the variables the templates pass to embargo.
var ciSecrets = []string{"EMBARGO_GIT_TOKEN", "CARGO_REGISTRY_TOKEN", "EMBARGO_BLOG_TOKEN", "EMBARGO_GHSA_TOKEN", "EMBARGO_AGE_IDENTITY",
	"EMBARGO_SMTP_PASSWORD", "EMBARGO_SIGNING_KEY", "EMBARGO_SIGNING_PASSPHRASE"}

// contractStages are the stage names of the command-line contract.
var contractStages = []string{"preflight", "gate", "push", "promote", "publish", "announce", "advisory", "ghsa", "notice", "verify"}

type ghWorkflow struct {
	On struct {
		Schedule []struct {
			Cron string `yaml:"cron"`
		} `yaml:"schedule"`
		WorkflowDispatch struct {
			Inputs map[string]struct {
				Type    string `yaml:"type"`
				Default any    `yaml:"default"`
			} `yaml:"inputs"`
		} `yaml:"workflow_dispatch"`
	} `yaml:"on"`
	Concurrency struct {
		Group            string `yaml:"group"`
		CancelInProgress *bool  `yaml:"cancel-in-progress"`
	} `yaml:"concurrency"`
	Defaults struct {
		Run struct {
			Shell string `yaml:"shell"`
		} `yaml:"run"`
	} `yaml:"defaults"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]ghJob  `yaml:"jobs"`
}

type ghJob struct {
	Env         map[string]string `yaml:"env"`
	Steps       []ghStep          `yaml:"steps"`
	Permissions map[string]string `yaml:"permissions"`
	Environment any               `yaml:"environment"`
}

type ghStep struct {
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	If   string            `yaml:"if"`
	Run  string            `yaml:"run"`
	Env  map[string]string `yaml:"env"`
	With map[string]any    `yaml:"with"`
}

func readYAML(t *testing.T, path string, v any) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s is not valid YAML: %v", path, err)
	}
	return string(b)
}

func loadGitHub(t *testing.T) (*ghWorkflow, ghJob) {
	t.Helper()
	var wf ghWorkflow
	readYAML(t, githubTemplate, &wf)
	if len(wf.Jobs) != 1 {
		t.Fatalf("want one job, got %d", len(wf.Jobs))
	}
	for _, job := range wf.Jobs {
		return &wf, job
	}
	return nil, ghJob{}
}

var cronRE = regexp.MustCompile(`^\d{1,2} \d{1,2} \d{1,2} \d{1,2} \*$`)

func TestGitHubActionsTemplateStructure(t *testing.T) {
	wf, job := loadGitHub(t)
	if len(wf.On.Schedule) != 2 {
		t.Errorf("want two schedules, the release and a later backup, got %+v", wf.On.Schedule)
	}
	var minutes []int
	for _, s := range wf.On.Schedule {
		if !cronRE.MatchString(s.Cron) {
			t.Errorf("schedule %q is not a dated cron line", s.Cron)
			continue
		}
		var m, h int
		fmt.Sscanf(s.Cron, "%d %d", &m, &h)
		if m%5 == 0 {
			t.Errorf("schedule %q starts on a round minute, when GitHub's scheduler is busiest", s.Cron)
		}
		minutes = append(minutes, h*60+m)
	}
	if len(minutes) == 2 && minutes[1] <= minutes[0] {
		t.Errorf("the backup schedule %v is not after the first", wf.On.Schedule)
	}
	// Trusted Publishing: the release job alone may ask for an OIDC
	// token, in an environment a trusted publisher can require.
	if job.Permissions["id-token"] != "write" || job.Environment == nil {
		t.Errorf("the release job needs `permissions: id-token: write` and an environment, got %v, %v", job.Permissions, job.Environment)
	}
	if _, ok := wf.Permissions["id-token"]; ok {
		t.Errorf("the workflow's permissions give every job an OIDC token: %v", wf.Permissions)
	}
	in := wf.On.WorkflowDispatch.Inputs
	for name, typ := range map[string]string{"stage": "string", "from": "string", "rehearse": "boolean"} {
		if got, ok := in[name]; !ok || got.Type != typ {
			t.Errorf("workflow_dispatch input %s: %+v, want type %s", name, got, typ)
		}
	}
	if in["rehearse"].Default != false {
		t.Errorf("rehearse must default to false, got %v", in["rehearse"].Default)
	}
	if wf.Concurrency.Group == "" || wf.Concurrency.CancelInProgress == nil || *wf.Concurrency.CancelInProgress {
		t.Errorf("concurrency must be a fixed group with cancel-in-progress: false, got %+v", wf.Concurrency)
	}
	if wf.Defaults.Run.Shell != "bash" {
		t.Errorf("run steps must use bash (-eo pipefail), got %q", wf.Defaults.Run.Shell)
	}

	var release, summary, upload *ghStep
	var goSetup, rust, install bool
	for i := range job.Steps {
		st := &job.Steps[i]
		switch {
		case strings.Contains(st.Run, "embargo run "):
			release = st
		case strings.Contains(st.Run, "GITHUB_STEP_SUMMARY"):
			summary = st
		case strings.HasPrefix(st.Uses, "actions/upload-artifact@"):
			upload = st
		case strings.HasPrefix(st.Uses, "actions/setup-go@"):
			goSetup = true
		}
		rust = rust || strings.Contains(st.Run, "rustup toolchain install")
		install = install || strings.Contains(st.Run, "go install \"github.com/async-rs/embargo@")
		for k, v := range st.Env {
			if strings.Contains(v, "secrets.") && st != release {
				t.Errorf("step %q gets secret %s: only the release step may", st.Name, k)
			}
		}
	}
	for k, v := range job.Env {
		if strings.Contains(v, "secrets.") {
			t.Errorf("job env %s holds a secret: every step would see it", k)
		}
	}
	if !goSetup || !rust || !install {
		t.Errorf("steps must set up Go (%v) and Rust (%v) and install embargo (%v)", goSetup, rust, install)
	}
	if release == nil {
		t.Fatal("no step runs `embargo run`")
	}
	for _, s := range ciSecrets {
		if got := release.Env[s]; got != "${{ secrets."+s+" }}" {
			t.Errorf("release step env %s = %q, want the secret of that name", s, got)
		}
	}
	for _, v := range []string{"inputs.stage", "inputs.from", "inputs.rehearse"} {
		if strings.Contains(release.Run, v) {
			t.Errorf("the release script pastes %s into the shell; pass it as a variable", v)
		}
	}
	if !strings.Contains(release.Run, "--json") || !strings.Contains(release.Run, "embargo rehearse") {
		t.Errorf("the release step must run with --json and offer the rehearsal:\n%s", release.Run)
	}
	if summary == nil || summary.If != "always()" || !strings.Contains(summary.Run, "embargo status") {
		t.Errorf("want an always() step writing `embargo status` to the job summary, got %+v", summary)
	}
	if upload == nil || upload.If != "always()" {
		t.Fatalf("want an always() artifact upload, got %+v", upload)
	}
	paths, _ := upload.With["path"].(string)
	report := teeTarget(t, release.Run)
	for _, p := range []string{".embargo/journal.json", report} {
		if !slices.Contains(strings.Fields(paths), p) {
			t.Errorf("artifact paths %q lack %s", paths, p)
		}
	}
}

// teeTarget is the file a release script keeps its JSON report in.
func teeTarget(t *testing.T, script string) string {
	t.Helper()
	m := regexp.MustCompile(`\| tee (\S+)`).FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("the release script keeps no report file:\n%s", script)
	}
	return m[1]
}

// glJob is a GitLab job after `extends` is applied.
type glJob map[string]any

func loadGitLab(t *testing.T) (top map[string]any, jobs map[string]glJob, text string) {
	t.Helper()
	text = readYAML(t, gitlabTemplate, &top)
	reserved := map[string]bool{"workflow": true, "stages": true, "variables": true, "default": true, "include": true}
	jobs = map[string]glJob{}
	for name, v := range top {
		m, ok := v.(map[string]any)
		if reserved[name] || strings.HasPrefix(name, ".") || !ok {
			continue
		}
		job := glJob{}
		if base, ok := m["extends"].(string); ok {
			parent, ok := top[base].(map[string]any)
			if !ok {
				t.Fatalf("job %s extends missing %s", name, base)
			}
			for k, v := range parent {
				job[k] = v
			}
		}
		for k, v := range m {
			job[k] = v
		}
		jobs[name] = job
	}
	return top, jobs, text
}

func (j glJob) lines(key string) []string {
	var out []string
	items, _ := j[key].([]any)
	for _, it := range items {
		s, _ := it.(string)
		out = append(out, strings.Split(s, "\n")...)
	}
	return out
}

func (j glJob) str(key string) string { s, _ := j[key].(string); return s }

// matrix is the values of a job's one-variable parallel matrix.
func (j glJob) matrix() (string, []string) {
	p, _ := j["parallel"].(map[string]any)
	rows, _ := p["matrix"].([]any)
	if len(rows) != 1 {
		return "", nil
	}
	row, _ := rows[0].(map[string]any)
	for k, v := range row {
		var vals []string
		list, _ := v.([]any)
		for _, x := range list {
			vals = append(vals, fmt.Sprint(x))
		}
		return k, vals
	}
	return "", nil
}

func TestGitLabTemplateStructure(t *testing.T) {
	top, jobs, text := loadGitLab(t)
	wf, _ := top["workflow"].(map[string]any)
	rules := fmt.Sprint(wf["rules"])
	if !strings.Contains(rules, `$CI_PIPELINE_SOURCE == "schedule"`) {
		t.Errorf("the workflow does not run scheduled pipelines: %s", rules)
	}
	for _, s := range ciSecrets {
		if !strings.Contains(text, s) {
			t.Errorf("the template does not tell to set %s", s)
		}
	}
	var groups []string
	var scheduled bool
	manual := map[string][]string{}
	for name, job := range jobs {
		script := strings.Join(job.lines("script"), "\n")
		if !strings.Contains(script, "embargo ") {
			if strings.Contains(script, "go install \"github.com/async-rs/embargo@") {
				continue // the build job
			}
			t.Errorf("job %s runs no embargo command", name)
			continue
		}
		groups = append(groups, job.str("resource_group"))
		ids, _ := job["id_tokens"].(map[string]any)
		if tok, _ := ids["CRATES_IO_ID_TOKEN"].(map[string]any); tok["aud"] != "crates.io" {
			t.Errorf("job %s has no id_tokens entry CRATES_IO_ID_TOKEN with aud crates.io: %v", name, job["id_tokens"])
		}
		art, _ := job["artifacts"].(map[string]any)
		if art["when"] != "always" || !strings.Contains(fmt.Sprint(art["paths"]), ".embargo/journal.json") {
			t.Errorf("job %s does not keep the journal whatever happens: %v", name, art)
		}
		if !strings.Contains(script, "--json") {
			t.Errorf("job %s does not use --json:\n%s", name, script)
		}
		if job.str("when") == "manual" {
			if v, vals := job.matrix(); v != "" {
				manual[v] = vals
			}
		}
		if strings.Contains(fmt.Sprint(job["rules"]), `$CI_PIPELINE_SOURCE == "schedule"`) && strings.Contains(script, "embargo run ") {
			scheduled = true
		}
	}
	if len(groups) == 0 || slices.Contains(groups, "") || len(slices.Compact(slices.Sorted(slices.Values(groups)))) != 1 {
		t.Errorf("every release job must share one resource_group, got %q", groups)
	}
	if !scheduled {
		t.Error("no job runs `embargo run` in the scheduled pipeline")
	}
	var names []string
	for _, st := range stages.All(core.Clients{}) {
		if st.Name() != core.Gate {
			names = append(names, st.Name())
		}
	}
	for _, v := range []string{"EMBARGO_STAGE", "EMBARGO_FROM"} {
		vals, ok := manual[v]
		if !ok {
			t.Errorf("no manual job per stage over %s", v)
		}
		for _, s := range vals {
			if !slices.Contains(contractStages, s) {
				t.Errorf("manual job for unknown stage %q", s)
			}
		}
		for _, s := range names {
			if !slices.Contains(vals, s) {
				t.Errorf("stage %s has no manual %s job", s, v)
			}
		}
	}
}

// ciCommand is one embargo command line of a template, with the
// environment the CI system gives it.
type ciCommand struct {
	where string // template: job/step
	line  string
	env   map[string]string
	phase int
}

// selectRE finds a stage selection given outright, not one that only
// applies when an input is set.
var selectRE = regexp.MustCompile(`\s--(only|from)\s`)

// phase orders the commands as a release uses them: look, rehearse,
// release, re-run, report.
func phase(line string) int {
	f := strings.Fields(line)
	switch {
	case len(f) < 2:
		return 0
	case f[1] == "rehearse":
		return 1
	case f[1] == "run" && selectRE.MatchString(line):
		return 3
	case f[1] == "run":
		return 2
	case f[1] == "status":
		return 4
	}
	return 0
}

func embargoLines(script string) []string {
	var out []string
	for _, l := range strings.Split(script, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "embargo ") {
			out = append(out, l)
		}
	}
	return out
}

var exprRE = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// githubCommands extracts the template's embargo lines with the step
// environment, expressions replaced by test values; a release line that
// reads the inputs runs once per variant.
func githubCommands(t *testing.T, secrets map[string]string) []ciCommand {
	_, job := loadGitHub(t)
	var out []ciCommand
	for _, st := range job.Steps {
		for _, line := range embargoLines(st.Run) {
			variants := []map[string]string{{"inputs.stage": "", "inputs.from": "", "inputs.rehearse": ""}}
			if strings.Contains(line, "$EMBARGO_STAGE") {
				variants = append(variants,
					map[string]string{"inputs.stage": "push", "inputs.from": "", "inputs.rehearse": "false"},
					map[string]string{"inputs.stage": "", "inputs.from": "publish", "inputs.rehearse": "false"})
			}
			for _, vars := range variants {
				env := map[string]string{}
				for _, src := range []map[string]string{job.Env, st.Env} {
					for k, v := range src {
						env[k] = exprRE.ReplaceAllStringFunc(v, func(e string) string {
							expr := exprRE.FindStringSubmatch(e)[1]
							if val, ok := vars[expr]; ok {
								return val
							}
							if name, ok := strings.CutPrefix(expr, "secrets."); ok {
								return secrets[name]
							}
							if expr == "vars.EMBARGO_BUNDLE" {
								return ""
							}
							t.Fatalf("step %q: no test value for ${{ %s }}", st.Name, expr)
							return ""
						})
					}
				}
				ph := phase(line)
				if vars["inputs.stage"] != "" || vars["inputs.from"] != "" {
					ph = 3
				}
				out = append(out, ciCommand{where: "github: " + st.Name, line: line, env: env, phase: ph})
			}
		}
	}
	return out
}

// gitlabCommands extracts the template's embargo lines with the job's
// variables; CI/CD settings variables (the secrets) come from secrets, and
// a matrix job runs with one of its values.
func gitlabCommands(t *testing.T, secrets map[string]string, projectDir string) []ciCommand {
	top, jobs, _ := loadGitLab(t)
	names := make([]string, 0, len(jobs))
	for n := range jobs {
		names = append(names, n)
	}
	sort.Strings(names)
	pick := map[string]string{"EMBARGO_STAGE": "publish", "EMBARGO_FROM": "promote"}
	var out []ciCommand
	for _, name := range names {
		job := jobs[name]
		env := map[string]string{"CI_PROJECT_DIR": projectDir, "CI_PIPELINE_SOURCE": "schedule"}
		for k, v := range secrets {
			env[k] = v
		}
		for _, vars := range []any{top["variables"], job["variables"]} {
			m, _ := vars.(map[string]any)
			for k, v := range m {
				env[k] = fmt.Sprint(v)
			}
		}
		if v, vals := job.matrix(); v != "" {
			if !slices.Contains(vals, pick[v]) {
				t.Fatalf("job %s: matrix %s lacks %s", name, v, pick[v])
			}
			env[v] = pick[v]
		}
		for _, key := range []string{"before_script", "script", "after_script"} {
			for _, line := range embargoLines(strings.Join(job.lines(key), "\n")) {
				out = append(out, ciCommand{where: "gitlab: " + name + "." + key, line: line, env: env, phase: phase(line)})
			}
		}
	}
	return out
}

// The embargo command lines of both templates, run as the CI systems
// would run them (bash, -e and pipefail, the template's environment), in
// the order of a release: plan, rehearse, the release, re-runs, status.
// The generated world stands in for every public target; it has an image
// to promote too.
func TestCITemplateCommandsRunAgainstTheSandboxWorld(t *testing.T) { runTemplateCommands(t, false) }

// The same, with Trusted Publishing: no registry secret at all; the GitHub
// job's runner offers an OIDC token (the template's `id-token: write`),
// the GitLab job has one in the variable of its `id_tokens:` entry.
func TestCITemplateCommandsReleaseWithTrustedPublishing(t *testing.T) { runTemplateCommands(t, true) }

func runTemplateCommands(t *testing.T, trusted bool) {
	requireTool(t, "bash")
	// T0 ahead, as for a CI job started before it: the release's first
	// run waits for it, the later ones find it prepared. The plans and
	// the two rehearsals before it take seconds, more on a loaded machine.
	t0 := time.Now().Add(20 * time.Second).Truncate(time.Second)
	var opts registry.Options
	if trusted {
		opts.TrustedPublishing = &registry.TrustedPublishing{}
	}
	rl := newPublishRelease(t, t0, opts)
	if trusted {
		rl.seedCrates() // Trusted Publishing cannot create a crate
	}
	// The registry token is read from the name the templates pass.
	cfg, err := os.ReadFile(rl.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = bytes.Replace(cfg, []byte(`token_env = "`+registryTokenEnv+`"`), []byte(`token_env = "CARGO_REGISTRY_TOKEN"`), 1)
	if err := os.WriteFile(rl.config, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	// configFor is the config a CI system's job reads: with Trusted
	// Publishing, GitLab's names the id_tokens variable.
	configFor := func(where string) []byte {
		if !trusted {
			return cfg
		}
		auth := "trusted_publishing = true"
		if strings.HasPrefix(where, "gitlab") {
			auth += "\nid_token_env = \"CRATES_IO_ID_TOKEN\""
		}
		return bytes.Replace(cfg, []byte(`token_env = "CARGO_REGISTRY_TOKEN"`), []byte(auth), 1)
	}
	images := startImageRegistry(t)
	im := config.Image{From: images.pushPrivate(t, "private/app", 2), To: images.host + "/async-rs/app:1.13.1"}
	appendImages(t, rl.config, im)
	if cfg, err = os.ReadFile(rl.config); err != nil { // with the image
		t.Fatal(err)
	}
	if filepath.Base(rl.config) != "embargo.toml" {
		t.Fatalf("the templates expect embargo.toml, the world has %s", rl.config)
	}

	// The runner: embargo on PATH (GitLab puts it in $CI_PROJECT_DIR/bin),
	// the work tree the config is in, no token but what the template gives.
	project := t.TempDir()
	if err := os.MkdirAll(filepath.Join(project, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(binary, filepath.Join(project, "bin", "embargo")); err != nil {
		t.Fatal(err)
	}
	var base []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(ciSecrets, k) && k != tokenEnv && k != registryTokenEnv && k != "PATH" {
			base = append(base, kv)
		}
	}
	base = append(base, "PATH="+filepath.Join(project, "bin")+":"+os.Getenv("PATH"), "DOCKER_CONFIG="+t.TempDir())
	secrets := map[string]string{"EMBARGO_GIT_TOKEN": token, "CARGO_REGISTRY_TOKEN": registryToken, "EMBARGO_BLOG_TOKEN": "", "EMBARGO_AGE_IDENTITY": ""}
	if trusted {
		secrets["CARGO_REGISTRY_TOKEN"] = "" // none is set
	}

	cmds := append(githubCommands(t, secrets), gitlabCommands(t, secrets, project)...)
	sort.SliceStable(cmds, func(i, j int) bool { return cmds[i].phase < cmds[j].phase })
	seen := map[string]bool{}
	var outputs []string
	for _, c := range cmds {
		seen[strings.Fields(c.line)[1]] = true
		env := append([]string{}, base...)
		for k, v := range c.env {
			env = append(env, k+"="+v)
		}
		if err := os.WriteFile(rl.config, configFor(c.where), 0o644); err != nil {
			t.Fatal(err)
		}
		if trusted && strings.HasPrefix(c.where, "github") {
			env = append(env, rl.runner()...) // the runner's, for `id-token: write`
		}
		if trusted && strings.HasPrefix(c.where, "gitlab") {
			jwt, err := rl.registry.IssueJWT("127.0.0.1") // the host standing in for crates.io
			if err != nil {
				t.Fatal(err)
			}
			env = append(env, "CRATES_IO_ID_TOKEN="+jwt)
		}
		os.Remove(filepath.Join(rl.dir, "embargo-report.jsonl"))
		cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", c.line)
		cmd.Dir, cmd.Env = rl.dir, env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		outputs = append(outputs, out.String(), errb.String())
		if err != nil {
			t.Fatalf("%s: `%s` failed: %v\n--- stdout\n%s--- stderr\n%s", c.where, c.line, err, out.String(), errb.String())
		}
		t.Logf("%s: %s: ok", c.where, c.line)
		if strings.Contains(c.line, "--json") {
			assertReportOK(t, c, out.String())
		}
		if strings.Contains(c.line, "| tee embargo-report.jsonl") {
			if _, err := os.Stat(filepath.Join(rl.dir, "embargo-report.jsonl")); err != nil {
				t.Errorf("%s: the report artifact is missing: %v", c.where, err)
			}
		}
		if c.phase == 1 {
			rl.assertUnreleased()
		}
		if c.phase >= 2 {
			if _, err := os.Stat(filepath.Join(rl.dir, ".embargo", "journal.json")); err != nil {
				t.Errorf("%s: the journal artifact is missing: %v", c.where, err)
			}
		}
	}
	for _, sub := range []string{"plan", "rehearse", "run", "status"} {
		if !seen[sub] {
			t.Errorf("no template runs `embargo %s`", sub)
		}
	}
	rl.assertReleased()
	rl.assertPublishedOnce()
	if _, want, _ := strings.Cut(im.From, "@"); images.resolve(t, im.To) != want {
		t.Errorf("%s was not promoted", im.To)
	}
	if trusted {
		for _, r := range rl.registry.Requests() {
			if r.Method == http.MethodPut && r.Token {
				t.Errorf("an upload carried a long-lived registry token: %s", r.Path)
			}
		}
		if _, exchanged, _, live := rl.registry.TrustpubCounts(); exchanged == 0 || live != 0 {
			t.Errorf("%d exchange(s), %d token(s) left live", exchanged, live)
		}
		rl.assertNoTrustpubSecret(outputs...)
		return
	}
	rl.assertNoSecret(outputs...)
}

// assertReportOK checks the last JSON line is a successful final report.
func assertReportOK(t *testing.T, c ciCommand, stdout string) {
	t.Helper()
	if ok, last := endsWithSuccessfulReport(stdout); !ok {
		t.Errorf("%s: `%s` does not end with a successful report: %s", c.where, c.line, last)
	}
}

// endsWithSuccessfulReport reads the last line of a --json run's output:
// whether it is the final report saying the run succeeded, and the line.
func endsWithSuccessfulReport(stdout string) (bool, string) {
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	line := lines[len(lines)-1]
	var last struct {
		Event string `json:"event"`
		Data  struct {
			Report struct {
				OK bool `json:"ok"`
			} `json:"report"`
		} `json:"data"`
	}
	err := json.Unmarshal([]byte(line), &last)
	return err == nil && last.Event == "report" && last.Data.Report.OK, line
}

// The line `embargo plan --ci` prints replaces the template's placeholder
// as is, and the schedule is then 45 minutes before T0.
func TestPlanCILineDropsIntoTheTemplates(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC)
	cfg := writeImageConfig(t, dir, t0, nil)
	res := runBinary(t, nil, "plan", "--ci", "-c", cfg)
	if res.code != 0 {
		t.Fatal(res)
	}
	ms := regexp.MustCompile(`(?m)^\s*- (cron: "[^"]+")$`).FindAllStringSubmatch(res.stdout, -1)
	if len(ms) != 2 || ms[0][1] != `cron: "14 13 1 12 *"` || ms[1][1] != `cron: "34 13 1 12 *"` {
		t.Fatalf("plan --ci printed not the two cron lines for T0 %s:\n%s", t0, res.stdout)
	}
	text, err := os.ReadFile(githubTemplate)
	if err != nil {
		t.Fatal(err)
	}
	placeholder := regexp.MustCompile(`cron: "[^"]*"`)
	if n := len(placeholder.FindAll(text, -1)); n != 2 {
		t.Fatalf("the template has %d cron lines, want two to replace", n)
	}
	i := 0
	edited := placeholder.ReplaceAllFunc(text, func([]byte) []byte { i++; return []byte(ms[i-1][1]) })
	var wf ghWorkflow
	if err := yaml.Unmarshal(edited, &wf); err != nil {
		t.Fatal(err)
	}
	if len(wf.On.Schedule) != 2 || wf.On.Schedule[0].Cron != "14 13 1 12 *" || wf.On.Schedule[1].Cron != "34 13 1 12 *" {
		t.Errorf("edited template schedules %+v", wf.On.Schedule)
	}
	if !strings.Contains(res.stdout, "interval pattern: 14 13 1 12 *") || !strings.Contains(res.stdout, "interval pattern: 34 13 1 12 *") {
		t.Errorf("plan --ci says nothing for GitLab:\n%s", res.stdout)
	}
}
