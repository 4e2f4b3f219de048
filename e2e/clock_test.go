package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/gitserver"
	"github.com/async-rs/embargo/sandbox/registry"
)

// threeSeconds is an offset of about -3 s as check and plan print it.
var threeSeconds = regexp.MustCompile(`-(2\.9|3\.0)\d\d s ±0\.\d\d\d s`)

// serverWrite is a public write as a server logged it, on its own clock.
type serverWrite struct {
	at   time.Time
	what string
}

// serverWrites lists what the servers saw of the release, each at its
// arrival by the server's clock: every receive-pack request (the ref
// advertisement a push begins with, and the push) and every upload.
func (rl *release) serverWrites() (pushes, all []serverWrite) {
	for _, r := range rl.server.ReceivePacks() {
		// Only the POST carries the pack: the GETs of the advertisement
		// read the refs before T0, to prepare the push.
		if r.Method == http.MethodPost {
			w := serverWrite{r.Time, r.Method + " " + r.Path}
			all = append(all, w)
			pushes = append(pushes, w)
		}
	}
	for _, r := range rl.registry.Requests() {
		if r.Method == http.MethodPut {
			all = append(all, serverWrite{r.Time, "PUT " + r.Crate + "@" + r.Version})
		}
	}
	return pushes, all
}

// clockChecks reads the clock measurements from the journal.
func (rl *release) clockChecks() []pipeline.ClockCheck {
	rl.t.Helper()
	b, err := os.ReadFile(filepath.Join(rl.dir, ".embargo", "journal.json"))
	if err != nil {
		rl.t.Fatal(err)
	}
	var j struct{ Clocks []pipeline.ClockCheck }
	if err := json.Unmarshal(b, &j); err != nil {
		rl.t.Fatal(err)
	}
	return j.Clocks
}

// The git host and the registry run 3 s behind this machine: T0 comes to
// them 3 s after it comes here. Nothing reaches them before T0 on their
// own clocks, and the push lands within 1.5 s after it; plan and the run's
// preflight say how far off they are, and how to fix it.
func TestRunWaitsForT0OnTheClocksOfTargetsThatAreBehind(t *testing.T) {
	const skew = -3 * time.Second
	t0 := time.Now().Add(4 * time.Second).Truncate(time.Second)
	rl := buildReleaseWith(t, t0, gitserver.Options{ClockOffset: skew}, &registry.Options{ClockOffset: skew}, nil)

	plan := rl.run([]string{"plan"})
	if plan.code != 0 {
		t.Fatalf("plan: %s", plan)
	}
	for _, want := range []string{"clocks of the public targets", "git remote", "registry API", "behind this machine's", "timedatectl"} {
		if !strings.Contains(plan.stdout, want) {
			t.Errorf("plan does not say %q:\n%s", want, plan.stdout)
		}
	}
	if !threeSeconds.MatchString(plan.stdout) {
		t.Errorf("plan does not show the offsets, about -3 s:\n%s", plan.stdout)
	}

	res := rl.run([]string{"run"})
	if res.code != 0 {
		t.Fatalf("run: %s", res)
	}
	pushes, all := rl.serverWrites()
	for _, w := range all {
		if w.at.Before(t0) {
			t.Errorf("%s reached its server at %s on the server's clock, %s before T0 there", w.what, w.at.Format(time.RFC3339Nano), t0.Sub(w.at))
		}
	}
	if len(pushes) != 1 {
		t.Fatalf("the git server saw %d pushes, want one", len(pushes))
	}
	if late := pushes[0].at.Sub(t0); late < 0 || late > 1500*time.Millisecond {
		t.Errorf("the push reached the git server %s after T0 on its clock, want within 1.5s", late)
	}
	if len(all) != 1+len(rl.versions()) { // the push, the uploads
		t.Errorf("the servers saw %d writes, want %d", len(all), 1+len(rl.versions()))
	}
	rl.assertReleased()
	for _, want := range []string{"behind this machine's", "the gate holds every public write until T0 on it", "T0 comes later on the clock of"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("run output lacks %q:\n%s", want, res.stdout)
		}
	}

	// The journal keeps both measurements, preflight's and the gate's, and
	// each holds the servers' offset.
	whys := map[string]bool{}
	for _, c := range rl.clockChecks() {
		why, _, _ := strings.Cut(c.Why, " (") // a measurement the opening cut short says so
		whys[why] = true
		if len(c.Offsets) != 2 {
			t.Errorf("%s measured %d targets, want the git remote and the registry API: %+v", c.Why, len(c.Offsets), c.Offsets)
		}
		for _, o := range c.Offsets {
			if !o.Measured() || o.Low > skew || o.High < skew {
				t.Errorf("%s: %s measured at [%v, %v], which does not hold its %v", c.Why, o.Name(), o.Low, o.High, skew)
			}
		}
	}
	if !whys["preflight"] || !whys[pipeline.MeasureGate] {
		t.Errorf("the journal holds measurements for %v, want preflight's and the gate's", whys)
	}
}

// The servers' clocks run 3 s ahead: T0 passed for them before it comes
// here, and the release starts at T0 on this machine's clock, never
// before.
func TestRunStartsAtLocalT0WhenTheTargetsClocksAreAhead(t *testing.T) {
	const skew = 3 * time.Second
	t0 := time.Now().Add(4 * time.Second).Truncate(time.Second)
	rl := buildReleaseWith(t, t0, gitserver.Options{ClockOffset: skew}, &registry.Options{ClockOffset: skew}, nil)
	res := rl.run([]string{"run"})
	if res.code != 0 {
		t.Fatalf("run: %s", res)
	}
	pushes, all := rl.serverWrites()
	for _, w := range all {
		if local := w.at.Add(-skew); local.Before(t0) {
			t.Errorf("%s reached its server at %s by this machine's clock, %s before T0", w.what, local.Format(time.RFC3339Nano), t0.Sub(local))
		}
	}
	if len(pushes) != 1 {
		t.Fatalf("the git server saw %d pushes, want one", len(pushes))
	}
	if late := pushes[0].at.Add(-skew).Sub(t0); late > 1500*time.Millisecond {
		t.Errorf("the push came %s after T0 here, want within 1.5s", late)
	}
	rl.assertReleased()
	if !strings.Contains(res.stdout, "ahead of this machine's") || !strings.Contains(res.stdout, "the release starts at T0 on this machine's clock") {
		t.Errorf("run output does not warn of the clocks 3 s ahead:\n%s", res.stdout)
	}
}

// A target whose clock is off by more than the disclosure window cannot
// be released to on time: check says so, with the fix, and is not ready.
func TestCheckRefusesAClockOffByMoreThanTheWindow(t *testing.T) {
	t.Parallel()
	rl := buildReleaseWith(t, time.Now().Add(time.Hour), gitserver.Options{ClockOffset: 7 * time.Hour}, &registry.Options{}, nil)
	res := rl.run([]string{"check"})
	if res.code != 1 {
		t.Fatalf("check with the git host 7 h ahead: want exit 1, got %s", res)
	}
	for _, want := range []string{"not ready", "clock of git remote", "more than the disclosure window", "timedatectl set-ntp"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("check does not say %q:\n%s", want, res.stdout)
		}
	}
	rl.assertUnreleased()
}
