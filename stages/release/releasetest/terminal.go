package releasetest

import (
	"strings"
	"sync"
)

// Terminal records what a run draws on a terminal's live line, in order.
type Terminal struct {
	mu  sync.Mutex
	raw strings.Builder
	// want is closed once the output holds text.
	text string
	want chan struct{}
}

func (t *Terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.raw.Write(p)
	if t.want != nil && strings.Contains(t.raw.String(), t.text) {
		close(t.want)
		t.want = nil
	}
	return len(p), nil
}

// When closes seen once the output holds text.
func (t *Terminal) When(text string, seen chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.text, t.want = text, seen
}

// Live is every live line drawn whose text starts with prefix: each draw
// follows the clearing of the one before, and the lines printed above it.
func (t *Terminal) Live(prefix string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, seg := range strings.Split(t.raw.String(), "\r\033[J") {
		if i := strings.LastIndex(seg, "\n"); i >= 0 {
			seg = seg[i+1:]
		}
		if strings.HasPrefix(seg, prefix) && (len(out) == 0 || out[len(out)-1] != seg) {
			out = append(out, seg)
		}
	}
	return out
}
