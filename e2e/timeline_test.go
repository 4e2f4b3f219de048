package e2e

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/async-rs/embargo/pipeline"
	"github.com/async-rs/embargo/sandbox/registry"
)

// A release killed after T0, as its advisory began, and run again:
// `status --svg` draws both runs of every stage, the first advisory cut
// off with why under it, and every public write the journal holds on a
// run of its stage (the uploads on the first publish, the re-run found
// them done); rsvg-convert and ImageMagick's own renderer both draw every
// bar without an outline and every write.
func TestTimelineOfAKilledAndResumedReleaseIsDrawnByEveryRenderer(t *testing.T) {
	t.Parallel()
	rl := newPublishRelease(t, time.Now().Add(3*time.Second).Truncate(time.Second), registry.Options{})
	crash := rl.run([]string{"run"}, "EMBARGO_TEST_KILL_AT=advisory.render.started")
	if !crash.killed {
		t.Fatalf("the run was not killed at the advisory: %s", crash)
	}
	if res := rl.run([]string{"run"}); res.code != 0 {
		t.Fatalf("the re-run: %s", res)
	}
	svg := filepath.Join(rl.dir, "timeline.svg")
	if res := rl.run([]string{"status", "--svg", svg}); res.code != 0 {
		t.Fatalf("status --svg: %s", res)
	}
	pic := readTimeline(t, svg)

	runs := map[string][]string{}
	for _, b := range pic.all("rect", "stage") {
		runs[b.attr["data-stage"]] = append(runs[b.attr["data-stage"]], b.attr["data-state"])
	}
	for stage, want := range map[string]string{"preflight": "done done", "publish": "done done", "advisory": "failed done"} {
		if got := strings.Join(runs[stage], " "); got != want {
			t.Errorf("%s is drawn as runs %q, want %q", stage, got, want)
		}
	}
	noted := false
	for _, n := range pic.all("text", "note") {
		noted = noted || n.attr["data-stage"] == "advisory" && strings.HasPrefix(n.text, "failed: cut off: the run ended before the step did")
	}
	if !noted {
		t.Errorf("the advisory cut off does not say why: %v", pic.all("text", "note"))
	}
	want := 0
	for _, s := range rl.journal().Snapshot().Stages {
		for _, step := range s.Steps {
			for _, m := range step.FirstMoments() {
				if m.Public {
					want++
				}
			}
		}
	}
	writes := pic.all("circle", "write")
	if len(writes) != want || want < 5 {
		t.Fatalf("%d public writes drawn, the journal holds %d: want every upload and the advisory's push", len(writes), want)
	}
	for _, w := range writes {
		cx := w.num(t, "cx")
		on := false
		for _, b := range pic.all("rect", "stage") {
			on = on || b.attr["data-stage"] == w.attr["data-stage"] && b.num(t, "x")-1 <= cx && cx <= b.num(t, "x")+b.num(t, "width")+1
		}
		if !on {
			t.Errorf("the write of %s at x=%.1f falls on no run of its stage", w.attr["data-stage"], cx)
		}
	}
	for _, r := range timelineRenderers(t) {
		t.Run(r.name, func(t *testing.T) { pic.assertDrawn(t, r) })
	}
}

// A preflight that failed: the picture is drawn by every renderer, the
// failed run with its error under it.
func TestTimelineOfAFailedPreflightIsDrawnByEveryRenderer(t *testing.T) {
	t.Parallel()
	rl := newRelease(t, time.Now().Add(time.Hour).Truncate(time.Second))
	rl.editConfig(t, `branch        = "embargo/1.12"`, `branch        = "embargo/1.21"`)
	if res := rl.run([]string{"run"}); res.code != 1 {
		t.Fatalf("want the run to fail at preflight: %s", res)
	}
	svg := filepath.Join(rl.dir, "timeline.svg")
	if res := rl.run([]string{"status", "--svg", svg}); res.code != 1 {
		t.Fatalf("status --svg of a failed run: %s", res)
	}
	pic := readTimeline(t, svg)
	bars := pic.all("rect", "stage")
	if len(bars) != 1 || bars[0].attr["data-state"] != pipeline.StateFailed {
		t.Fatalf("bars %v, want the failed preflight alone", bars)
	}
	if notes := pic.all("text", "note"); len(notes) != 1 || !strings.Contains(notes[0].text, "held branch embargo/1.21 does not exist") {
		t.Errorf("the failed preflight says %v, want its error", notes)
	}
	for _, r := range timelineRenderers(t) {
		t.Run(r.name, func(t *testing.T) { pic.assertDrawn(t, r) })
	}
}

// timelineRenderer turns an SVG file into a PNG.
type timelineRenderer struct {
	name string
	args func(in, out string) []string
}

// timelineRenderers are the converters people use: rsvg-convert, and
// ImageMagick with its own renderer (MSVG:), which `convert` uses where
// rsvg-convert is not installed.
func timelineRenderers(t *testing.T) []timelineRenderer {
	t.Helper()
	requireTool(t, "rsvg-convert")
	magick := "convert"
	if _, err := exec.LookPath("magick"); err == nil {
		magick = "magick" // ImageMagick 7
	}
	requireTool(t, magick)
	return []timelineRenderer{
		{"rsvg-convert", func(in, out string) []string { return []string{"rsvg-convert", "-o", out, in} }},
		{"ImageMagick", func(in, out string) []string { return []string{magick, "MSVG:" + in, out} }},
	}
}

// timelinePicture is a drawn timeline: its file and elements.
type timelinePicture struct {
	path          string
	width, height int
	elements      []svgElement
}

type svgElement struct {
	name string
	attr map[string]string
	text string
}

func (e svgElement) num(t *testing.T, key string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(e.attr[key], 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", e.name, key, e.attr[key], err)
	}
	return v
}

func readTimeline(t *testing.T, path string) *timelinePicture {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pic := &timelinePicture{path: path}
	d := xml.NewDecoder(bytes.NewReader(b))
	var open []int
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", path, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := svgElement{name: tok.Name.Local, attr: map[string]string{}}
			for _, a := range tok.Attr {
				e.attr[a.Name.Local] = a.Value
			}
			open = append(open, len(pic.elements))
			pic.elements = append(pic.elements, e)
		case xml.CharData:
			if len(open) > 0 {
				pic.elements[open[len(open)-1]].text += string(tok)
			}
		case xml.EndElement:
			open = open[:len(open)-1]
		}
	}
	root := pic.elements[0]
	pic.width, pic.height = int(root.num(t, "width")), int(root.num(t, "height"))
	return pic
}

func (p *timelinePicture) all(name, class string) []svgElement {
	var out []svgElement
	for _, e := range p.elements {
		if e.name == name && e.attr["class"] == class {
			out = append(out, e)
		}
	}
	return out
}

// assertDrawn renders the picture with r and looks in its pixels for every
// bar, in its colour up to its top edge (no outline), and every public
// write's dot.
func (p *timelinePicture) assertDrawn(t *testing.T, r timelineRenderer) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "timeline.png")
	args := r.args(p.path, out)
	cmd := exec.Command(args[0], args[1:]...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s wrote no PNG: %v", r.name, err)
	}
	if b := img.Bounds(); b.Dx() != p.width || b.Dy() != p.height {
		t.Fatalf("%s drew %dx%d, want the picture's %dx%d", r.name, b.Dx(), b.Dy(), p.width, p.height)
	}

	// Lines and breaks drawn over the bars, and the dots on them, are not
	// where a bar's own colour is looked for.
	var over [][2]float64
	for _, class := range []string{"t0", "deadline"} {
		for _, l := range p.all("line", class) {
			over = append(over, [2]float64{l.num(t, "x1") - 2, l.num(t, "x1") + 2})
		}
	}
	for _, b := range p.all("rect", "break") {
		over = append(over, [2]float64{b.num(t, "x") - 1, b.num(t, "x") + b.num(t, "width") + 1})
	}
	writes := p.all("circle", "write")
	for _, w := range writes {
		over = append(over, [2]float64{w.num(t, "cx") - 6, w.num(t, "cx") + 6})
	}
	free := func(x float64) bool {
		for _, o := range over {
			if o[0] <= x && x <= o[1] {
				return false
			}
		}
		return true
	}

	bars := p.all("rect", "stage")
	if len(bars) == 0 {
		t.Fatal("no bars to look for")
	}
	for _, b := range bars {
		x, y, w := b.num(t, "x"), b.num(t, "y"), b.num(t, "width")
		what := fmt.Sprintf("the bar of %s (run %s)", b.attr["data-stage"], b.attr["data-run"])
		// The top row of a bar wide enough for its rounded corners: an
		// outline would darken it. A narrow bar is looked for lower.
		row, inset := y, 4.0
		if w < 8 {
			row, inset = y+3, 0.5
		}
		sx := math.NaN()
		for d := 0.0; d <= w/2; d++ {
			for _, c := range []float64{x + w/2 - d, x + w/2 + d} {
				if c >= x+inset && c <= x+w-inset && free(c) && math.IsNaN(sx) {
					sx = c
				}
			}
		}
		if math.IsNaN(sx) {
			continue // wholly under lines and dots
		}
		assertPixel(t, r.name, what, img, sx, row, b.attr["fill"])
	}
	for _, w := range writes {
		assertPixel(t, r.name, "the public write of "+w.attr["data-stage"], img, w.num(t, "cx"), w.num(t, "cy"), w.attr["fill"])
	}
}

// assertPixel checks that the pixel covering (x, y) is the colour want
// (#rrggbb), give or take what smoothing does.
func assertPixel(t *testing.T, renderer, what string, img image.Image, x, y float64, want string) {
	t.Helper()
	var wr, wg, wb uint8
	if _, err := fmt.Sscanf(want, "#%02x%02x%02x", &wr, &wg, &wb); err != nil {
		t.Fatalf("%s: colour %q: %v", what, want, err)
	}
	px, py := int(math.Floor(x)), int(math.Floor(y))
	got := color.NRGBAModel.Convert(img.At(px, py)).(color.NRGBA)
	near := func(a, b uint8) bool { return math.Abs(float64(a)-float64(b)) <= 32 }
	if !near(got.R, wr) || !near(got.G, wg) || !near(got.B, wb) || got.A < 224 {
		t.Errorf("%s: %s is not drawn: the pixel at (%d,%d) is rgba(%d,%d,%d,%d), want %s",
			renderer, what, px, py, got.R, got.G, got.B, got.A, want)
	}
}
