package probe

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric names, all labelled from and to (the direction) except
// MetricSLO.
const (
	MetricLatency       = "replcheck_probe_replication_latency_seconds"
	MetricWritten       = "replcheck_probe_canaries_written_total"
	MetricConverged     = "replcheck_probe_canaries_converged_total"
	MetricLate          = "replcheck_probe_canaries_late_total"
	MetricSkipped       = "replcheck_probe_canaries_skipped_total"
	MetricWriteFailures = "replcheck_probe_write_failures_total"
	MetricPolls         = "replcheck_probe_polls_total"
	MetricPollFailures  = "replcheck_probe_poll_failures_total"
	MetricPending       = "replcheck_probe_pending_canaries"
	MetricOldestPending = "replcheck_probe_oldest_pending_age_seconds"
	MetricLastSuccess   = "replcheck_probe_last_success_timestamp_seconds"
	MetricLastLag       = "replcheck_probe_last_lag_seconds"
	MetricSLO           = "replcheck_probe_slo_seconds"
)

// latencyBuckets span loopback lags to the default 15 min SLO; the SLO
// in use is added as a bound of its own, so that the share within it is
// one bucket.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900}

// Buckets returns the latency histogram's bounds for an SLO.
func Buckets(slo time.Duration) []float64 {
	b := slices.Clone(latencyBuckets)
	if s := slo.Seconds(); s > 0 && !slices.Contains(b, s) {
		b = append(b, s)
		slices.Sort(b)
	}
	return b
}

// metrics are the probe's Prometheus instruments. Pending counts and
// ages are read from the probe when scraped (collector).
type metrics struct {
	latency                            *prometheus.HistogramVec
	written, converged, late, skipped  *prometheus.CounterVec
	writeFailures, polls, pollFailures *prometheus.CounterVec
	lastSuccess, lastLag               *prometheus.GaugeVec
}

var labels = []string{"from", "to"}

func newMetrics(reg prometheus.Registerer, p *Probe) (*metrics, error) {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	}
	m := &metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricLatency,
			Help:    "Replication lag of canary objects: from the write's acknowledgement at the origin to the midpoint of its arrival bracket at the peer.",
			Buckets: Buckets(p.cfg.SLO)}, labels),
		written:       counter(MetricWritten, "Canary objects written at the origin and acknowledged."),
		converged:     counter(MetricConverged, "Canary objects seen at the peer."),
		late:          counter(MetricLate, "Canary objects seen at the peer later than the SLO."),
		skipped:       counter(MetricSkipped, "Canary writes skipped because the direction had its maximum of canaries outstanding."),
		writeFailures: counter(MetricWriteFailures, "Canary writes at the origin that failed."),
		polls:         counter(MetricPolls, "HEAD requests at the peer looking for canaries."),
		pollFailures:  counter(MetricPollFailures, "HEAD requests at the peer that got no answer (anything but found or not found)."),
		lastSuccess:   gauge(MetricLastSuccess, "Unix time at which a canary was last seen at the peer; 0 before the first."),
		lastLag:       gauge(MetricLastLag, "Replication lag of the canary last seen at the peer."),
	}
	slo := prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricSLO, Help: "The replication lag target the probe judges against."})
	slo.Set(p.cfg.SLO.Seconds())
	for _, c := range []prometheus.Collector{m.latency, m.written, m.converged, m.late, m.skipped, m.writeFailures,
		m.polls, m.pollFailures, m.lastSuccess, m.lastLag, slo, pendingCollector{p}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// Every series exists from the start, at zero, so that rates and
	// absent() alerts work before the first event.
	for _, d := range p.dirs {
		from, to := d.stats.From, d.stats.To
		m.latency.WithLabelValues(from, to)
		for _, c := range []*prometheus.CounterVec{m.written, m.converged, m.late, m.skipped, m.writeFailures, m.polls, m.pollFailures} {
			c.WithLabelValues(from, to)
		}
		m.lastSuccess.WithLabelValues(from, to)
		m.lastLag.WithLabelValues(from, to)
	}
	return m, nil
}

var (
	pendingDesc = prometheus.NewDesc(MetricPending,
		"Canary objects acknowledged at the origin and not seen at the peer yet.", labels, nil)
	oldestDesc = prometheus.NewDesc(MetricOldestPending,
		"Age of the oldest pending canary; 0 when none is pending.", labels, nil)
)

// pendingCollector reads pending canaries at scrape time, so their age is
// current.
type pendingCollector struct{ p *Probe }

func (c pendingCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- oldestDesc
}

func (c pendingCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	for _, d := range c.p.dirs {
		n, oldest := d.pendingNow(now)
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(n), d.stats.From, d.stats.To)
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, oldest.Seconds(), d.stats.From, d.stats.To)
	}
}
