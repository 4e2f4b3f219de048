package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/async-rs/embargo/config"
	"github.com/async-rs/embargo/sandbox/demo"
	"github.com/async-rs/embargo/sandbox/registry"
	"github.com/async-rs/embargo/sandbox/world"
)

// A shell `embargo completion` has no script for is bad usage, as an
// unknown command is: exit 2 naming the shells, not its help and exit 0.
// So is an unknown command of sandbox.
func TestCompletionOfAnUnknownShellIsBadUsage(t *testing.T) {
	code, stdout, stderr := embargo(t, "completion", "tcsh")
	if code != ExitUsage || stdout != "" {
		t.Errorf("completion tcsh: exit %d, stdout %q; want exit %d and nothing on stdout", code, stdout, ExitUsage)
	}
	for _, want := range []string{`"tcsh"`, "bash, fish, powershell or zsh"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("completion tcsh does not say %s:\n%s", want, stderr)
		}
	}
	if code, stdout, _ := embargo(t, "completion", "bash"); code != ExitOK || !strings.Contains(stdout, "complete -o default") {
		t.Errorf("completion bash: exit %d, not the script\n%.200s", code, stdout)
	}
	if code, _, stderr := embargo(t, "sandbox", "sreve"); code != ExitUsage || !strings.Contains(stderr, "demo or serve") {
		t.Errorf("sandbox sreve: exit %d, stderr %q; want exit %d naming demo and serve", code, stderr, ExitUsage)
	}
}

// configWithRegistry is planCIConfig's config, its registry a sandbox one
// on this machine, started for the test.
func configWithRegistry(t *testing.T) string {
	t.Helper()
	reg, err := registry.Start("", registry.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	config := planCIConfig(t, "2026-12-01T14:00:00Z")
	f, err := os.OpenFile(config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[registry]\nindex = %q\n", reg.IndexURL())
	f.Close()
	return config
}

// Each command's help says what its --json prints, and it prints that:
// JSON Lines whose last line is the report (also when the command fails:
// here, a source repository that is not there), or one object.
func TestEachCommandsJSONIsWhatItsHelpSays(t *testing.T) {
	config := configWithRegistry(t)
	extra := map[string][]string{
		"check": nil, "run": nil, "rehearse": nil, "seal": nil,
		"plan": nil, "status": nil, "render": {"-o", filepath.Join(t.TempDir(), "review")}, "version": nil,
	}
	a := &app{}
	for _, c := range a.rootCommand().Commands() {
		if _, ok := extra[c.Name()]; c.Annotations[jsonOutput] != "" && !ok {
			t.Errorf("%s has --json output this test does not look at", c.Name())
		}
	}
	for name, args := range extra {
		_, help, _ := embargo(t, name, "--help")
		saysLines, saysObject := strings.Contains(help, "--json: JSON Lines"), strings.Contains(help, "--json: one JSON object")
		if saysLines == saysObject {
			t.Errorf("embargo %s --help does not say what --json prints:\n%s", name, help)
			continue
		}
		_, stdout, stderr := embargo(t, append([]string{name, "--json", "-c", config}, args...)...)
		var obj map[string]any
		isObject := json.Unmarshal([]byte(stdout), &obj) == nil && obj["event"] == nil
		isLines := stdout != ""
		var last map[string]any
		for _, l := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
			last = nil
			if json.Unmarshal([]byte(l), &last) != nil || last["event"] == nil {
				isLines = false
			}
		}
		isLines = isLines && last["event"] == "report"
		switch {
		case saysLines && !isLines:
			t.Errorf("embargo %s --json: its help says JSON Lines ending with the report, it printed:\n%s%s", name, stdout, stderr)
		case saysObject && !isObject:
			t.Errorf("embargo %s --json: its help says one JSON object, it printed:\n%s%s", name, stdout, stderr)
		}
	}
	// Nothing claims one form for every command.
	_, help, _ := embargo(t, "--help")
	for _, l := range strings.Split(help, "\n") {
		if strings.Contains(l, "--json") && strings.Contains(l, "JSON Lines") && !strings.Contains(l, "or one object") {
			t.Errorf("embargo --help says every command's --json is JSON Lines: %s", l)
		}
		if strings.Contains(l, "--verbose") && strings.Contains(l, "every step") {
			t.Errorf("embargo --help says -v prints every step, which it does not for every command: %s", l)
		}
	}
}

// The README's usage block names every command and every flag each takes,
// and its global flags every global one: the comparison is made from the
// commands themselves, so that the two cannot drift apart.
func TestREADMEUsageNamesEveryCommandAndFlag(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	_, after, _ := strings.Cut(readme, "## Commands\n")
	_, block, _ := strings.Cut(after, "```\n")
	block, _, _ = strings.Cut(block, "```")
	// An entry begins with a line starting "embargo "; the indented lines
	// under it are its own.
	var entries []string
	for _, l := range strings.Split(block, "\n") {
		if strings.HasPrefix(l, "embargo ") || len(entries) == 0 {
			entries = append(entries, l)
			continue
		}
		entries[len(entries)-1] += "\n" + l
	}
	entryOf := func(path string) string {
		for _, e := range entries {
			if e == path || strings.HasPrefix(e, path+" ") {
				return e
			}
		}
		return ""
	}
	mentions := func(text string, f *pflag.Flag) bool {
		long := regexp.MustCompile(`(^|[^a-z-])--` + regexp.QuoteMeta(f.Name) + `($|[^a-z-])`)
		short := f.Shorthand != "" && regexp.MustCompile(`(^|[^a-z-])-`+f.Shorthand+`($|[^a-z-])`).MatchString(text)
		return long.MatchString(text) || short
	}

	root := (&app{}).rootCommand()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if !sub.IsAvailableCommand() || sub.Name() == "help" {
				continue
			}
			walk(sub)
			if !sub.Runnable() || sub.HasSubCommands() {
				continue
			}
			path := sub.CommandPath()
			entry := entryOf(path)
			if sub.Parent().Name() == "completion" {
				// One entry for every shell: embargo completion bash|zsh|...
				shells := strings.Fields(entryOf("embargo completion"))
				if len(shells) < 3 || !slices.Contains(strings.Split(shells[2], "|"), sub.Name()) {
					t.Errorf("README's usage block does not list %s", path)
				}
				continue
			}
			if entry == "" {
				t.Errorf("README's usage block has no line for %s", path)
				continue
			}
			sub.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
				if f.Name != "help" && !f.Hidden && !mentions(entry, f) {
					t.Errorf("README's usage of %s does not mention --%s (%s)", path, f.Name, f.Usage)
				}
			})
		}
	}
	walk(root)

	_, global, _ := strings.Cut(readme, "Global flags:")
	global, _, _ = strings.Cut(global, "\n\n")
	root.PersistentFlags().VisitAll(func(f *pflag.Flag) {
		if !mentions(global, f) {
			t.Errorf("README's global flags do not mention --%s (%s)", f.Name, f.Usage)
		}
	})
	root.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" && !mentions(readme, f) {
			t.Errorf("README does not mention embargo --%s (%s)", f.Name, f.Usage)
		}
	})
}

// init in a clone with no held branch writes the [[release]] it could not
// guess with a placeholder for each value, which the config refuses by
// key, and no placeholder anywhere else but plain comments.
func TestInitWithoutAHeldBranchWritesOnlyRealPlaceholders(t *testing.T) {
	w, err := world.Build(world.DefaultSpec(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainOpen(w.Source)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range w.Lines {
		if err := r.Storer.RemoveReference(plumbing.NewBranchReferenceName(l.HeldBranch)); err != nil {
			t.Fatal(err)
		}
	}
	if code, stdout, stderr := embargo(t, "init", "--dir", w.Source); code != ExitOK || !strings.Contains(stdout, "no held branch found") {
		t.Fatalf("init: exit %d\n%s%s", code, stdout, stderr)
	}
	file := filepath.Join(w.Source, "embargo.toml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// A placeholder is a whole quoted value, "TODO: ...", of a key.
	value := regexp.MustCompile(`^[a-z_]+ += "TODO:(?:[^"\\]|\\.)*"( +#.*)?$`)
	for i, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, config.Placeholder) || strings.HasPrefix(l, "#") {
			continue
		}
		if m := value.FindStringSubmatch(l); m == nil || strings.Contains(m[1], config.Placeholder) {
			t.Errorf("%s:%d: a placeholder that is not a key's whole value: %s", file, i+1, l)
		}
	}
	_, err = config.Load(file)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("the starter config loads (%v)", err)
	}
	refused := map[string]bool{}
	for _, p := range ce.Problems {
		refused[p.Key] = true
	}
	for _, key := range []string{"release[1].line", "release[1].branch", "release[1].public_branch", "release[1].tag"} {
		if !refused[key] {
			t.Errorf("the config does not refuse the placeholder of %s: %v", key, err)
		}
	}
}

// plan of the example against an empty registry: its four versions are
// the first of two crates the registry does not have and one more of
// each, none of "existing crates"; the stages' columns line up whatever
// the width of "after publish", and a skipped stage says why.
func TestPlanCountsNewCratesAndLinesUpItsStages(t *testing.T) {
	reg, err := registry.Start("", registry.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	ex, err := demo.Build(t.TempDir(), demo.Options{T0: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC),
		RegistryIndex: reg.IndexURL(), RegistryTokenEnv: "EMBARGO_REGISTRY_TOKEN", BlogURL: "http://127.0.0.1:9/blog/{{.Slug}}/"})
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := embargo(t, "plan", "-c", ex.Config)
	if code != ExitOK {
		t.Fatalf("plan: exit %d\n%s%s", code, out, stderr)
	}
	if !strings.Contains(out, "publish: 4 version(s) to upload over 2 line(s): 2 new crate(s)") || strings.Contains(out, "existing") {
		t.Errorf("plan counts the example's versions on an empty registry as:\n%s", out)
	}
	column := -1
	stage := regexp.MustCompile(`^\d\. +(\S+) +(before T0|until T0|at T0|after \S+(?:, \S+)*|by \S+|skipped) +(.*)$`)
	for _, l := range strings.Split(out, "\n") {
		m := stage.FindStringSubmatchIndex(l)
		if m == nil {
			continue
		}
		if column == -1 {
			column = m[6]
		}
		if m[6] != column {
			t.Errorf("a stage's description starts at column %d, the first one's at %d:\n%s", m[6], column, out)
		}
		if name, when, what := l[m[2]:m[3]], l[m[4]:m[5]], l[m[6]:m[7]]; when == "skipped" && !strings.HasPrefix(what, "no [") {
			t.Errorf("stage %s is skipped without saying why: %s", name, l)
		}
	}
	if column == -1 {
		t.Errorf("plan lists no stage:\n%s", out)
	}
}

// Without [blog], plan and check say that no advisory will be posted.
func TestWithoutABlogPlanAndCheckSayNoAdvisoryIsPosted(t *testing.T) {
	config := configWithRegistry(t)
	for _, cmd := range []string{"plan", "check"} {
		_, out, _ := embargo(t, cmd, "-c", config)
		if !strings.Contains(out, "no advisory will be posted: there is no [blog] in "+config) {
			t.Errorf("%s without [blog] does not say no advisory will be posted:\n%s", cmd, out)
		}
	}
}

// A config that is not there is bad usage that says how to get one.
func TestAMissingConfigSuggestsInit(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "embargo.toml")
	for _, cmd := range []string{"check", "plan", "run", "status"} {
		code, _, stderr := embargo(t, cmd, "-c", missing)
		if code != ExitUsage || !strings.Contains(stderr, missing) || !strings.Contains(stderr, "`embargo init`") {
			t.Errorf("%s of a missing config: exit %d, %q; want exit %d naming the file and embargo init", cmd, code, stderr, ExitUsage)
		}
	}
}

// A T0 days away is said in days, in plan and status alike.
func TestDurationsOfDaysArePrintedInDays(t *testing.T) {
	// The test clock is 2026-11-20 09:00:00Z: 705 days, 5h35m1s before.
	config := planCIConfig(t, "2028-10-25T14:35:01Z")
	for _, cmd := range []string{"plan", "status"} {
		_, out, stderr := embargo(t, cmd, "-c", config)
		if !strings.Contains(out, "in 705d5h35m") || strings.Contains(out, "16925h") {
			t.Errorf("%s of a T0 705 days ahead:\n%s%s", cmd, out, stderr)
		}
	}
}
