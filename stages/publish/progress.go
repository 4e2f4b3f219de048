package publish

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// publishProgress is the publish stage's part of the live line a
// terminal shows from T0: for each line, the versions the registry took,
// those the index shows and its total, and how long since T0, so that the
// seconds the index takes to show an upload are seen passing. Logs and
// JSON have the steps' own lines instead.
type publishProgress struct {
	out   *pipeline.Reporter
	clock pipeline.Clock
	t0    time.Time
	stop  chan struct{}

	mu       sync.Mutex
	lines    []string // in the config's order
	uploaded map[string]int
	visible  map[string]int
	fail     map[string]int
	total    map[string]int
}

func newPublishProgress(r *release.Run, lines []*publishingLine) *publishProgress {
	if r.Out == nil || !r.Out.TTY {
		return nil
	}
	p := &publishProgress{out: r.Out, clock: r.Gate.Clock, t0: r.Gate.T0, stop: make(chan struct{}),
		uploaded: map[string]int{}, visible: map[string]int{}, fail: map[string]int{}, total: map[string]int{}}
	for _, l := range lines {
		if l != nil {
			p.lines = append(p.lines, l.rel.Line)
			p.total[l.rel.Line] = len(l.sealed.Order)
		}
	}
	p.show()
	go p.tick()
	return p
}

// tick shows the line again each second of this machine's, for the time
// since T0 it shows (read on the gate's clock). A refresh of the screen
// only: nothing waits on it, so it never holds a fake clock's test.
func (p *publishProgress) tick() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.show()
		}
	}
}

// uploadedOne counts a version of line the registry took.
func (p *publishProgress) uploadedOne(line string) {
	if p != nil {
		p.count(p.uploaded, line)
	}
}

// visibleOne counts a version of line the index shows with its sealed
// checksum.
func (p *publishProgress) visibleOne(line string) {
	if p != nil {
		p.count(p.visible, line)
	}
}

// foundOne counts a version of line already on the registry.
func (p *publishProgress) foundOne(line string) {
	if p != nil {
		p.count(p.uploaded, line)
		p.count(p.visible, line)
	}
}

// ended counts a crate of line whose step ended, failed or not.
func (p *publishProgress) ended(line string, err error) {
	if p != nil && err != nil {
		p.count(p.fail, line)
	}
}

func (p *publishProgress) count(m map[string]int, line string) {
	p.mu.Lock()
	m[line]++
	p.mu.Unlock()
	p.show()
}

func (p *publishProgress) show() {
	p.mu.Lock()
	msg, short := p.lineLocked()
	p.mu.Unlock()
	p.out.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: release.Publish, Msg: msg, Short: short})
}

// lineLocked is the publishes' part of the live line, and its shorter
// form for a narrow terminal: each line's versions visible of its total
// (and failures), without the uploads under way.
func (p *publishProgress) lineLocked() (msg, short string) {
	parts := make([]string, len(p.lines))
	shorts := make([]string, len(p.lines))
	for i, l := range p.lines {
		failed := ""
		if n := p.fail[l]; n > 0 {
			failed = fmt.Sprintf(", %d failed", n)
		}
		parts[i] = fmt.Sprintf("%s %d uploaded, %d/%d visible%s", l, p.uploaded[l], p.visible[l], p.total[l], failed)
		shorts[i] = fmt.Sprintf("%s %d/%d visible%s", l, p.visible[l], p.total[l], failed)
	}
	since := p.clock.Now().Sub(p.t0).Truncate(time.Second)
	head := fmt.Sprintf("publish T0+%s: ", pipeline.HumanDuration(max(since, 0)))
	return head + strings.Join(parts, " · "), head + strings.Join(shorts, " · ")
}

// close stops the ticks and clears the publish's part of the live line.
func (p *publishProgress) close() {
	if p != nil {
		close(p.stop)
		p.out.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: release.Publish})
	}
}
