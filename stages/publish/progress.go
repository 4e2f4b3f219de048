package publish

import (
	"fmt"
	"strings"
	"sync"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/stages/release"
)

// publishProgress is the live line a terminal shows while the lines
// publish: each line's versions done out of its total, redrawn as each
// crate's step ends. Logs and JSON have the steps' own lines instead.
type publishProgress struct {
	out   *pipeline.Reporter
	mu    sync.Mutex
	lines []string // in the config's order
	done  map[string]int
	fail  map[string]int
	total map[string]int
}

func newPublishProgress(r *release.Run, lines []*publishingLine) *publishProgress {
	if r.Out == nil || !r.Out.TTY {
		return nil
	}
	p := &publishProgress{out: r.Out, done: map[string]int{}, fail: map[string]int{}, total: map[string]int{}}
	for _, l := range lines {
		if l != nil {
			p.lines = append(p.lines, l.rel.Line)
			p.total[l.rel.Line] = len(l.sealed.Order)
		}
	}
	return p
}

// ended counts a crate of line whose step ended, failed or not.
func (p *publishProgress) ended(line string, err error) {
	if p == nil {
		return
	}
	p.mu.Lock()
	if err != nil {
		p.fail[line]++
	} else {
		p.done[line]++
	}
	msg := p.lineLocked()
	p.mu.Unlock()
	p.out.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: release.Publish, Msg: msg})
}

func (p *publishProgress) lineLocked() string {
	parts := make([]string, len(p.lines))
	for i, l := range p.lines {
		parts[i] = fmt.Sprintf("%s %d/%d", l, p.done[l], p.total[l])
		if n := p.fail[l]; n > 0 {
			parts[i] += fmt.Sprintf(" (%d failed)", n)
		}
	}
	return "publishing: " + strings.Join(parts, " · ")
}

// close clears the live line.
func (p *publishProgress) close() {
	if p != nil {
		p.out.Emit(pipeline.Event{Kind: pipeline.EventLive, Stage: release.Publish})
	}
}
