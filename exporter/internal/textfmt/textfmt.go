// Package textfmt writes the Prometheus text exposition format (0.0.4) of
// plain gauges, counters and untyped metrics without a registry, byte for
// byte as Registry.Gather plus expfmt's encoder would (FuzzWriter and the
// exporter's TestTextWriterMatchesRegistry check it). It is the exporter's
// fast path, kept internal so that the public API stays plain
// client_golang.
package textfmt

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// maxTextFamilies bounds the Descs the text writer remembers. Built-in
// collectors make their Descs once; a collector making new ones on every
// scrape would otherwise grow the cache without end, so past this many the
// scrape takes the registry path.
const maxTextFamilies = 4096

// Direct is a metric that hands over its sample without building a
// protobuf message (exporter.NewMetric's).
type Direct interface {
	prometheus.Metric
	// Sample returns the sample's type, value and label values in the
	// order of its Desc's variable labels, which must be sorted; ok false
	// means the Writer must use Write instead.
	Sample() (typ dto.MetricType, v float64, labelValues []string, ok bool)
}

// textFamily is what the text writer knows of one Desc, learnt once from
// the first metric seen with it.
type textFamily struct {
	name string
	// rank orders families by name (equal names, equal ranks), so sorting
	// a scrape compares integers; guarded by Writer.mu.
	rank int
	// header is "# HELP …\n# TYPE …\n" exactly as expfmt writes it.
	header []byte
	typ    dto.MetricType
	// labelNames are the names of the labels, in the order written.
	labelNames []string
}

// Writer writes the text exposition format (0.0.4) of plain gauges,
// counters and untyped metrics without the registry: no conversion to
// metric families, no consistency hashing, one pooled buffer. Its output is
// byte for byte what Registry.Gather plus expfmt's text encoder give for the
// same metrics (TestTextWriterMatchesRegistry). Anything it cannot write that
// way — histograms, summaries, names needing UTF-8 quoting, inconsistent
// families — makes write return false and the caller takes the registry path,
// which also reports what is wrong.
type Writer struct {
	mu       sync.RWMutex
	families map[*prometheus.Desc]*textFamily // nil entry: the Desc needs the registry path
	ranks    int                              // distinct family names
	scratch  sync.Pool                        // *textScratch
}

// textSample is one sample to write; its labels are either pairs (from a
// dto.Metric) or values (from NewMetric, named by fam.labelNames).
type textSample struct {
	fam    *textFamily
	pairs  []*dto.LabelPair
	values []string
	value  float64
	ts     *int64
}

func (s *textSample) numLabels() int {
	if s.pairs != nil {
		return len(s.pairs)
	}
	return len(s.values)
}

func (s *textSample) label(i int) (name, value string) {
	if s.pairs != nil {
		return s.pairs[i].GetName(), s.pairs[i].GetValue()
	}
	return s.fam.labelNames[i], s.values[i]
}

type textScratch struct {
	samples, sorted []textSample
	counts          []int
	buf             bytes.Buffer
	metric          dto.Metric
}

// New returns an empty Writer; it learns each Desc on first use.
func New() *Writer {
	return &Writer{
		families: map[*prometheus.Desc]*textFamily{},
		scratch:  sync.Pool{New: func() any { return new(textScratch) }},
	}
}

// Write encodes ms, merged with the already gathered families extra (sorted
// by name, as Gather returns them), and passes the bytes to send. It returns
// false, having sent nothing, when ms or extra need the registry path.
func (tw *Writer) Write(ms []prometheus.Metric, extra []*dto.MetricFamily, send func([]byte)) bool {
	s := tw.scratch.Get().(*textScratch)
	defer func() {
		clear(s.samples) // drop references to this scrape's labels
		clear(s.sorted)
		s.samples, s.sorted = s.samples[:0], s.sorted[:0]
		if s.buf.Cap() <= 1<<20 {
			tw.scratch.Put(s)
		}
	}()
	for _, m := range ms {
		if d, ok := m.(Direct); ok {
			if typ, v, values, ok := d.Sample(); ok {
				// No protobuf message needed.
				fam := tw.family(m.Desc(), m)
				if fam == nil || fam.typ != typ || len(values) != len(fam.labelNames) {
					return false
				}
				for _, lv := range values {
					if !utf8.ValidString(lv) {
						return false
					}
				}
				s.samples = append(s.samples, textSample{fam: fam, values: values, value: v})
				continue
			}
		}
		s.metric.Reset()
		if err := m.Write(&s.metric); err != nil {
			return false
		}
		fam := tw.family(m.Desc(), m)
		if fam == nil {
			return false
		}
		v, ok := value(&s.metric, fam.typ)
		if !ok {
			return false
		}
		for _, lp := range s.metric.Label {
			if !utf8.ValidString(lp.GetValue()) {
				return false
			}
		}
		s.samples = append(s.samples, textSample{fam: fam, pairs: s.metric.Label, value: v, ts: s.metric.TimestampMs})
	}
	if !tw.sort(s) {
		return false // a series collected twice: the registry reports it
	}
	if !legacyNames(extra) {
		return false // the registry path escapes such names as negotiated
	}
	s.buf.Reset()
	var last *textFamily
	for i := range s.samples {
		smp := &s.samples[i]
		if last == nil || smp.fam.name != last.name {
			for len(extra) > 0 && extra[0].GetName() < smp.fam.name {
				if _, err := expfmt.MetricFamilyToText(&s.buf, extra[0]); err != nil {
					return false
				}
				extra = extra[1:]
			}
			if len(extra) > 0 && extra[0].GetName() == smp.fam.name {
				return false // one family from two sources: the registry merges or rejects it
			}
			s.buf.Write(smp.fam.header)
		} else if smp.fam != last && (smp.fam.typ != last.typ || !bytes.Equal(smp.fam.header, last.header)) {
			return false // two Descs of one name that disagree
		}
		last = smp.fam
		writeSample(&s.buf, smp)
	}
	for _, mf := range extra {
		if _, err := expfmt.MetricFamilyToText(&s.buf, mf); err != nil {
			return false
		}
	}
	send(s.buf.Bytes())
	return true
}

// legacyNames reports whether every metric and label name in mfs is valid
// without UTF-8 quoting or escaping.
func legacyNames(mfs []*dto.MetricFamily) bool {
	for _, mf := range mfs {
		if !model.LegacyValidation.IsValidMetricName(mf.GetName()) {
			return false
		}
		for _, m := range mf.Metric {
			for _, lp := range m.Label {
				if !model.LegacyValidation.IsValidLabelName(lp.GetName()) {
					return false
				}
			}
		}
	}
	return true
}

// sort sorts s.samples as the registry does and reports whether every
// series is unique. Most families have one sample or a few, so it places
// the samples by family rank (a counting sort) and then sorts each
// family's samples by their labels.
func (tw *Writer) sort(s *textScratch) bool {
	tw.mu.RLock() // ranks stay put meanwhile
	defer tw.mu.RUnlock()
	starts := slices.Grow(s.counts[:0], tw.ranks+1)[:tw.ranks+1]
	clear(starts)
	for i := range s.samples {
		starts[s.samples[i].fam.rank+1]++
	}
	for r := 1; r < len(starts); r++ {
		starts[r] += starts[r-1]
	}
	sorted := slices.Grow(s.sorted[:0], len(s.samples))[:len(s.samples)]
	for _, smp := range s.samples {
		sorted[starts[smp.fam.rank]] = smp
		starts[smp.fam.rank]++
	}
	// Now starts[r] is where rank r ends.
	begin := 0
	for _, end := range starts[:tw.ranks] {
		if end-begin > 1 {
			slices.SortFunc(sorted[begin:end], compareSamples)
		}
		begin = end
	}
	clear(s.samples)
	s.samples, s.sorted, s.counts = sorted, s.samples, starts
	for i := 1; i < len(s.samples); i++ {
		if compareSeries(s.samples[i-1], s.samples[i]) == 0 {
			return false
		}
	}
	return true
}

// family returns what is known of d, learning it from m the first time.
func (tw *Writer) family(d *prometheus.Desc, m prometheus.Metric) *textFamily {
	tw.mu.RLock()
	fam, known := tw.families[d]
	tw.mu.RUnlock()
	if known {
		return fam
	}
	fam, keep := learnFamily(m)
	if !keep {
		return nil
	}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if len(tw.families) >= maxTextFamilies {
		return nil
	}
	tw.families[d] = fam
	if fam != nil {
		tw.rank()
	}
	return fam
}

// rank numbers the known families in name order; the caller holds mu.
func (tw *Writer) rank() {
	fams := make([]*textFamily, 0, len(tw.families))
	for _, f := range tw.families {
		if f != nil {
			fams = append(fams, f)
		}
	}
	slices.SortFunc(fams, func(a, b *textFamily) int { return strings.Compare(a.name, b.name) })
	tw.ranks = 0
	for i, f := range fams {
		if i > 0 && f.name == fams[i-1].name {
			f.rank = fams[i-1].rank
			continue
		}
		f.rank = tw.ranks
		tw.ranks++
	}
}

// learnFamily gathers m alone through a registry, so the registry checks
// it and expfmt writes its header. A nil family means the Desc needs the
// registry path; keep is false when that may be m's fault alone (a bad
// label value, say), so the next metric of the Desc is tried afresh.
func learnFamily(m prometheus.Metric) (fam *textFamily, keep bool) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(replay{m}) // unchecked: cannot fail
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || len(mfs[0].Metric) != 1 {
		return nil, false
	}
	mf := mfs[0]
	switch mf.GetType() {
	case dto.MetricType_COUNTER, dto.MetricType_GAUGE, dto.MetricType_UNTYPED:
	default:
		return nil, true
	}
	if !model.LegacyValidation.IsValidMetricName(mf.GetName()) {
		return nil, true
	}
	var names []string
	for _, lp := range mf.Metric[0].Label {
		if !model.LegacyValidation.IsValidLabelName(lp.GetName()) {
			return nil, true
		}
		names = append(names, lp.GetName())
	}
	var b bytes.Buffer
	if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
		return nil, true
	}
	// The header is every line before the sample line.
	text := b.Bytes()
	end := 0
	for end < len(text) && text[end] == '#' {
		nl := bytes.IndexByte(text[end:], '\n')
		if nl < 0 {
			return nil, true
		}
		end += nl + 1
	}
	return &textFamily{name: mf.GetName(), header: bytes.Clone(text[:end]), typ: mf.GetType(), labelNames: names}, true
}

func value(m *dto.Metric, typ dto.MetricType) (float64, bool) {
	switch {
	case typ == dto.MetricType_GAUGE && m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case typ == dto.MetricType_COUNTER && m.Counter != nil:
		return m.Counter.GetValue(), true
	case typ == dto.MetricType_UNTYPED && m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

// compareSamples orders as the registry does: by family name, then by label
// values in order, then by timestamp with none last.
func compareSamples(a, b textSample) int {
	if c := compareSeries(a, b); c != 0 {
		return c
	}
	switch {
	case a.ts == nil && b.ts == nil:
		return 0
	case a.ts == nil:
		return 1
	case b.ts == nil:
		return -1
	}
	return cmp.Compare(*a.ts, *b.ts)
}

// compareSeries orders by family name, then by label values in order.
func compareSeries(a, b textSample) int {
	if c := cmp.Compare(a.fam.rank, b.fam.rank); c != 0 {
		return c
	}
	na, nb := a.numLabels(), b.numLabels()
	for i := range min(na, nb) {
		_, va := a.label(i)
		_, vb := b.label(i)
		if c := strings.Compare(va, vb); c != 0 {
			return c
		}
	}
	return cmp.Compare(na, nb)
}

var labelValueEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func writeSample(b *bytes.Buffer, s *textSample) {
	b.WriteString(s.fam.name)
	n := s.numLabels()
	for i := range n {
		name, v := s.label(i)
		if i == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(name)
		b.WriteString(`="`)
		if strings.ContainsAny(v, "\\\n\"") {
			_, _ = labelValueEscaper.WriteString(b, v)
		} else {
			b.WriteString(v)
		}
		b.WriteByte('"')
	}
	if n > 0 {
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	writeFloat(b, s.value)
	if s.ts != nil {
		b.WriteByte(' ')
		b.Write(strconv.AppendInt(b.AvailableBuffer(), *s.ts, 10))
	}
	b.WriteByte('\n')
}

// writeFloat spells f as expfmt does.
func writeFloat(b *bytes.Buffer, f float64) {
	switch {
	case f == 1:
		b.WriteByte('1')
	case f == 0:
		b.WriteByte('0')
	case f == -1:
		b.WriteString("-1")
	case math.IsNaN(f):
		b.WriteString("NaN")
	case math.IsInf(f, +1):
		b.WriteString("+Inf")
	case math.IsInf(f, -1):
		b.WriteString("-Inf")
	default:
		b.Write(strconv.AppendFloat(b.AvailableBuffer(), f, 'g', -1, 64))
	}
}

// replay is an unchecked collector sending metrics already collected.
type replay []prometheus.Metric

func (replay) Describe(chan<- *prometheus.Desc) {}

func (r replay) Collect(ch chan<- prometheus.Metric) {
	for _, m := range r {
		ch <- m
	}
}
