//! Numbers out: percentiles, the JSON report, the SVG plot and the table for docs/performance.md.

use std::{collections::BTreeMap, fmt::Write as _};

use serde::Serialize;

use crate::bench::{caller::Failure, sims::SimCountsSnapshot};

/// Percentiles of a set of values (nearest rank), in the values' unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct Stats {
    pub(crate) count: usize,
    pub(crate) p50: f64,
    pub(crate) p95: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

impl Stats {
    /// `None` for an empty set.
    pub(crate) fn of(values: &[f64]) -> Option<Self> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let rank = |q: f64| {
            let idx = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
            sorted[idx]
        };
        Some(Self {
            count: sorted.len(),
            p50: rank(0.50),
            p95: rank(0.95),
            p99: rank(0.99),
            max: sorted[sorted.len() - 1],
        })
    }

    /// Every value minus `offset` (the simulators' configured share of a latency).
    pub(crate) fn minus(self, offset: f64) -> Self {
        Self {
            p50: self.p50 - offset,
            p95: self.p95 - offset,
            p99: self.p99 - offset,
            max: self.max - offset,
            ..self
        }
    }
}

/// A gateway histogram read from `/metrics`, in ms: the worst of each quantile over the scrapes
/// of a run (each scrape covers the exporter's rolling window).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct HopStats {
    pub(crate) count: f64,
    pub(crate) mean: f64,
    pub(crate) p50: f64,
    pub(crate) p95: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

/// One run at one call count.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunReport {
    pub(crate) calls: usize,
    pub(crate) completed: usize,
    pub(crate) failures: BTreeMap<Failure, usize>,
    /// A few failure details, for the reader.
    pub(crate) failure_examples: Vec<String>,
    pub(crate) peak_active_streams: usize,
    pub(crate) gateway_peak_active_calls: f64,
    pub(crate) wall_s: f64,
    /// Gateway-added latency per hop, from `/metrics` (ms), keyed by metric name.
    pub(crate) hops_ms: BTreeMap<String, HopStats>,
    /// End of caller speech -> first agent audio, measured at the caller (ms).
    pub(crate) voice_to_voice_ms: Option<Stats>,
    /// The same minus the simulators' configured delays.
    pub(crate) voice_to_voice_gateway_ms: Option<Stats>,
    /// First voiced frame of a barge-in -> `clear` (ms).
    pub(crate) barge_in_ms: Option<Stats>,
    /// The same minus the 40 ms the gateway's energy VAD needs (3 loud 20 ms frames).
    pub(crate) barge_in_gateway_ms: Option<Stats>,
    pub(crate) unexpected_clears: usize,
    pub(crate) bad_frames: usize,
    pub(crate) cpu_s: f64,
    pub(crate) call_minutes: f64,
    pub(crate) cpu_s_per_call_minute: Option<f64>,
    /// CPU per concurrent call as a percentage of one core.
    pub(crate) core_pct_per_call: Option<f64>,
    /// Gateway CPU over the busiest 5 s, in cores.
    pub(crate) peak_cores: f64,
    pub(crate) baseline_rss_mib: f64,
    pub(crate) peak_rss_mib: f64,
    pub(crate) rss_kib_per_call: Option<f64>,
    pub(crate) max_tick_lag_ms: f64,
    pub(crate) load_generator_cpu_s: f64,
    pub(crate) gateway_calls_by_outcome: BTreeMap<String, f64>,
    pub(crate) sims: SimCountsSnapshot,
}

impl RunReport {
    /// Calls that did not complete their script.
    pub(crate) fn failed(&self) -> usize {
        self.failures.values().sum()
    }
}

/// The machine the bench ran on.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Machine {
    pub(crate) nproc: usize,
    pub(crate) cpu_model: String,
    pub(crate) memory_gib: f64,
    pub(crate) kernel: String,
}

impl Machine {
    /// Reads `/proc`.
    pub(crate) fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib = crate::bench::gateway::status_kib(&meminfo, "MemTotal:").unwrap_or(0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        Self {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            memory_gib: mem_kib as f64 / 1024.0 / 1024.0,
            kernel,
        }
    }
}

/// Where latency starts to degrade: the first run whose caller-measured gateway-added
/// voice-to-voice p99 exceeds twice the smallest run's plus 5 ms, or that lost calls.
pub(crate) fn degradation_point(runs: &[RunReport]) -> Option<usize> {
    let base = runs
        .first()?
        .voice_to_voice_gateway_ms
        .map_or(0.0, |s| s.p99.max(0.0));
    runs.iter()
        .find(|run| {
            run.failed() > 0
                || run
                    .voice_to_voice_gateway_ms
                    .is_some_and(|s| s.p99 > 2.0 * base + 5.0)
        })
        .map(|run| run.calls)
}

fn opt(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

fn stats_cell(stats: Option<Stats>) -> String {
    stats.map_or_else(
        || "–".to_owned(),
        |s| format!("{:.0} / {:.0} / {:.0} / {:.0}", s.p50, s.p95, s.p99, s.max),
    )
}

fn hop_cell(run: &RunReport, name: &str) -> String {
    run.hops_ms.get(name).map_or_else(
        || "–".to_owned(),
        |h| format!("{:.2} / {:.2} / {:.2} / {:.2}", h.p50, h.p95, h.p99, h.max),
    )
}

/// The hop histograms the table shows, with short names.
pub(crate) const HOPS: [(&str, &str); 3] = [
    (
        "voice_transcript_to_llm_request_seconds",
        "transcript → LLM request",
    ),
    (
        "voice_llm_token_to_tts_request_seconds",
        "LLM first token → TTS request",
    ),
    (
        "voice_tts_audio_to_twilio_seconds",
        "TTS first audio → Twilio",
    ),
];

/// The Markdown section for docs/performance.md.
pub(crate) fn markdown(
    machine: &Machine,
    settings: &str,
    runs: &[RunReport],
    date: &str,
    notes: &[String],
) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Measured {date} on {} cores ({}), {:.1} GiB RAM, Linux {}. {settings}\n",
        machine.nproc, machine.cpu_model, machine.memory_gib, machine.kernel
    );
    let _ = writeln!(
        md,
        "Gateway-added latency per hop, from `/metrics`, ms, p50 / p95 / p99 / max:\n"
    );
    let _ = write!(md, "| calls |");
    for (_, label) in HOPS {
        let _ = write!(md, " {label} |");
    }
    let _ = writeln!(md, "\n|---:|---|---|---|");
    for run in runs {
        let _ = write!(md, "| {} |", run.calls);
        for (name, _) in HOPS {
            let _ = write!(md, " {} |", hop_cell(run, name));
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(
        md,
        "\nAt the caller, ms, p50 / p95 / p99 / max (\"gateway\" = raw minus the simulators' configured delays), and cost:\n"
    );
    let _ = writeln!(
        md,
        "| calls | peak streams | completed / failed | voice-to-voice raw | voice-to-voice gateway | barge-in → clear raw | barge-in gateway | CPU s per call-minute | % of a core per call | peak cores | peak RSS MiB | RSS KiB per call | generator lag max ms | generator CPU s |"
    );
    let _ = writeln!(
        md,
        "|---:|---:|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for run in runs {
        let _ = writeln!(
            md,
            "| {} | {} | {} / {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.0} | {} | {:.0} | {:.1} |",
            run.calls,
            run.peak_active_streams,
            run.completed,
            run.failed(),
            stats_cell(run.voice_to_voice_ms),
            stats_cell(run.voice_to_voice_gateway_ms),
            stats_cell(run.barge_in_ms),
            stats_cell(run.barge_in_gateway_ms),
            opt(run.cpu_s_per_call_minute, 3),
            opt(run.core_pct_per_call, 3),
            run.peak_cores,
            run.peak_rss_mib,
            opt(run.rss_kib_per_call, 0),
            run.max_tick_lag_ms,
            run.load_generator_cpu_s,
        );
    }
    let failures: Vec<String> = runs
        .iter()
        .filter(|r| r.failed() > 0)
        .map(|r| {
            let kinds: Vec<String> = r
                .failures
                .iter()
                .map(|(k, n)| format!("{k:?}: {n}"))
                .collect();
            format!("{} calls: {}", r.calls, kinds.join(", "))
        })
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(md, "\nFailed calls by kind: {}.", failures.join("; "));
    }
    match degradation_point(runs) {
        Some(n) => {
            let _ = writeln!(
                md,
                "\nLatency starts to degrade at **{n} calls** (first run whose caller-side gateway-added p99 is over twice the smallest run's + 5 ms, or that lost calls)."
            );
        }
        None => {
            let _ = writeln!(
                md,
                "\nNo run degraded (caller-side gateway-added p99 within twice the smallest run's + 5 ms, no lost calls)."
            );
        }
    }
    for note in notes {
        let _ = writeln!(md, "\n{note}");
    }
    md
}

/// Replaces the text between the bench markers in `doc`, or appends a marked section.
pub(crate) fn splice_section(doc: &str, section: &str) -> String {
    const BEGIN: &str = "<!-- bench:begin (written by `cargo xtask bench`) -->";
    const END: &str = "<!-- bench:end -->";
    let block = format!("{BEGIN}\n{section}\n{END}");
    match (doc.find(BEGIN), doc.find(END)) {
        (Some(b), Some(e)) if e > b => format!("{}{block}{}", &doc[..b], &doc[e + END.len()..]),
        _ => {
            let mut out = doc.trim_end().to_owned();
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(&block);
            out.push('\n');
            out
        }
    }
}

/// An SVG with two panels against the call count (evenly spaced): caller-side gateway-added
/// voice-to-voice p50/p99 and the hops' p99 sum (ms, left); CPU % of a core per call and RSS KiB
/// per call (right). Both use a log scale.
pub(crate) fn svg(runs: &[RunReport]) -> String {
    let width = 900.0;
    let height = 380.0;
    let panel_w = 400.0;
    let top = 40.0;
    let plot_h = 280.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let latency: Vec<(&str, &str, Vec<Option<f64>>)> = vec![
        (
            "v2v gateway p50",
            "#1f77b4",
            runs.iter()
                .map(|r| r.voice_to_voice_gateway_ms.map(|s| s.p50))
                .collect(),
        ),
        (
            "v2v gateway p99",
            "#d62728",
            runs.iter()
                .map(|r| r.voice_to_voice_gateway_ms.map(|s| s.p99))
                .collect(),
        ),
        (
            "hops p99 sum",
            "#2ca02c",
            runs.iter()
                .map(|r| {
                    let sum: f64 = HOPS
                        .iter()
                        .filter_map(|(n, _)| r.hops_ms.get(*n).map(|h| h.p99))
                        .sum();
                    (!r.hops_ms.is_empty()).then_some(sum)
                })
                .collect(),
        ),
    ];
    let cost: Vec<(&str, &str, Vec<Option<f64>>)> = vec![
        (
            "% of a core per call",
            "#9467bd",
            runs.iter().map(|r| r.core_pct_per_call).collect(),
        ),
        (
            "RSS KiB per call",
            "#ff7f0e",
            runs.iter().map(|r| r.rss_kib_per_call).collect(),
        ),
    ];
    panel(
        &mut svg,
        60.0,
        top,
        panel_w - 80.0,
        plot_h,
        "gateway-added latency (ms)",
        runs,
        &latency,
    );
    panel(
        &mut svg,
        60.0 + panel_w + 40.0,
        top,
        panel_w - 80.0,
        plot_h,
        "cost per call",
        runs,
        &cost,
    );
    let _ = writeln!(svg, "</svg>");
    svg
}

#[allow(clippy::too_many_arguments)]
fn panel(
    svg: &mut String,
    x0: f64,
    y0: f64,
    w: f64,
    h: f64,
    title: &str,
    runs: &[RunReport],
    series: &[(&str, &str, Vec<Option<f64>>)],
) {
    let values: Vec<f64> = series
        .iter()
        .flat_map(|(_, _, v)| v.iter().flatten().copied())
        .filter(|v| v.is_finite() && *v > 0.0)
        .collect();
    // Log scale (powers of ten) so the flat low-load values and the overloaded ones both show.
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0_f64, f64::max);
    let (lo_exp, hi_exp) = if values.is_empty() {
        (0, 1)
    } else {
        let lo_exp = lo.log10().floor() as i32;
        (lo_exp, (hi.log10().ceil() as i32).max(lo_exp + 1))
    };
    let n = runs.len().max(1);
    let x_of = |i: usize| {
        if n == 1 {
            x0 + w / 2.0
        } else {
            x0 + w * i as f64 / (n - 1) as f64
        }
    };
    let y_of = |v: f64| {
        let exp = v.max(10f64.powi(lo_exp)).log10();
        y0 + h - (exp - f64::from(lo_exp)) / f64::from(hi_exp - lo_exp) * h
    };
    let _ = writeln!(
        svg,
        r#"<text x="{x0}" y="{}" font-weight="bold">{title} (log scale)</text>"#,
        y0 - 15.0
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="none" stroke="#888"/>"##
    );
    for exp in lo_exp..=hi_exp {
        let v = 10f64.powi(exp);
        let y = y_of(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#eee"/><text x="{}" y="{:.1}" text-anchor="end">{v}</text>"##,
            x0 + w,
            x0 - 5.0,
            y + 4.0
        );
    }
    for (i, run) in runs.iter().enumerate() {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            x_of(i),
            y0 + h + 16.0,
            run.calls
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{}" text-anchor="middle">concurrent calls</text>"#,
        x0 + w / 2.0,
        y0 + h + 34.0
    );
    for (s, (label, color, values)) in series.iter().enumerate() {
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                v.filter(|v| v.is_finite() && *v > 0.0)
                    .map(|v| format!("{:.1},{:.1}", x_of(i), y_of(v)))
            })
            .collect();
        if !points.is_empty() {
            let _ = writeln!(
                svg,
                r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
                points.join(" ")
            );
            for p in &points {
                let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = writeln!(svg, r#"<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>"#);
            }
        }
        let ly = y0 + 12.0 + 14.0 * s as f64;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{ly}" fill="{color}">{label}</text>"#,
            x0 + 6.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let stats = Stats::of(&values).unwrap();
        assert_eq!(
            (stats.p50, stats.p95, stats.p99, stats.max),
            (50.0, 95.0, 99.0, 100.0)
        );
        assert_eq!(Stats::of(&[7.0]).unwrap().p99, 7.0);
        assert!(Stats::of(&[]).is_none());
        assert_eq!(stats.minus(10.0).p50, 40.0);
    }

    fn run(calls: usize, v2v_p99: f64, failed: usize) -> RunReport {
        let stats = Stats {
            count: 10,
            p50: v2v_p99 / 2.0,
            p95: v2v_p99,
            p99: v2v_p99,
            max: v2v_p99,
        };
        let hop = HopStats {
            count: 10.0,
            mean: 0.2,
            p50: 0.1,
            p95: 0.5,
            p99: 0.9,
            max: 1.5,
        };
        RunReport {
            calls,
            completed: calls - failed,
            failures: if failed > 0 {
                [(Failure::NoReply, failed)].into()
            } else {
                BTreeMap::new()
            },
            failure_examples: Vec::new(),
            peak_active_streams: calls,
            gateway_peak_active_calls: calls as f64,
            wall_s: 30.0,
            hops_ms: [(HOPS[0].0.to_owned(), hop)].into(),
            voice_to_voice_ms: Some(stats.minus(-750.0)),
            voice_to_voice_gateway_ms: Some(stats),
            barge_in_ms: None,
            barge_in_gateway_ms: None,
            unexpected_clears: 0,
            bad_frames: 0,
            cpu_s: 1.0,
            call_minutes: 5.0,
            cpu_s_per_call_minute: Some(0.2),
            core_pct_per_call: Some(0.3),
            peak_cores: 0.1,
            baseline_rss_mib: 30.0,
            peak_rss_mib: 40.0,
            rss_kib_per_call: Some(600.0),
            max_tick_lag_ms: 5.0,
            load_generator_cpu_s: 2.0,
            gateway_calls_by_outcome: BTreeMap::new(),
            sims: SimCountsSnapshot::default(),
        }
    }

    #[test]
    fn degradation_is_the_first_slow_or_lossy_run() {
        let check = |runs: &[RunReport], expected: Option<usize>| {
            assert_eq!(degradation_point(runs), expected);
        };
        check(&[], None);
        check(
            &[run(10, 70.0, 0), run(100, 140.0, 0), run(500, 146.0, 0)],
            Some(500),
        );
        check(
            &[run(10, 70.0, 0), run(100, 80.0, 1), run(500, 90.0, 0)],
            Some(100),
        );
        check(&[run(10, 70.0, 0), run(100, 80.0, 0)], None);
    }

    #[test]
    fn markdown_and_svg_show_every_run() {
        let runs = [run(10, 70.0, 0), run(100, 300.0, 2)];
        let machine = Machine {
            nproc: 2,
            cpu_model: "Test CPU".to_owned(),
            memory_gib: 4.0,
            kernel: "6.0".to_owned(),
        };
        let md = markdown(
            &machine,
            "Settings.",
            &runs,
            "2026-01-01",
            &["A note.".to_owned()],
        );
        assert!(md.starts_with(
            "Measured 2026-01-01 on 2 cores (Test CPU), 4.0 GiB RAM, Linux 6.0. Settings."
        ));
        assert!(
            md.contains("| 10 | 0.10 / 0.50 / 0.90 / 1.50 | – | – |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| 100 | 100 | 98 / 2 | 900 / 1050 / 1050 / 1050 | 150 / 300 / 300 / 300 |"
            ),
            "{md}"
        );
        assert!(
            md.contains("Failed calls by kind: 100 calls: NoReply: 2."),
            "{md}"
        );
        assert!(
            md.contains("degrade at **100 calls**") && md.ends_with("\nA note.\n"),
            "{md}"
        );
        let svg = svg(&runs);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        // Five series with data, one polyline each.
        assert_eq!(svg.matches("<polyline").count(), 5, "{svg}");
    }

    #[test]
    fn splice_replaces_only_the_marked_section() {
        let first = splice_section("# Performance\n\nintro\n", "table one");
        assert!(first.starts_with("# Performance\n\nintro\n\n<!-- bench:begin"));
        let second = splice_section(&format!("{first}\nafter\n"), "table two");
        assert!(second.contains("table two") && !second.contains("table one"));
        assert!(second.starts_with("# Performance\n\nintro") && second.ends_with("after\n"));
    }
}
