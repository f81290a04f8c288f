//! Reads the gateway's `/metrics` (Prometheus text format as metrics-exporter-prometheus writes it:
//! histograms are summaries with `quantile` labels plus `_sum` and `_count`).

use std::collections::BTreeMap;

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub(crate) name: String,
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) value: f64,
}

/// Parses the text format; comment lines and lines that do not parse are skipped.
pub(crate) fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let (series, value) = line.trim().rsplit_once(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let (name, labels) = match series.split_once('{') {
        None => (series, Vec::new()),
        Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}')?)?),
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

fn parse_labels(text: &str) -> Option<Vec<(String, String)>> {
    let mut labels = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(if escaped == 'n' { '\n' } else { escaped });
                    }
                }
                '"' => {
                    end = Some(i);
                    break;
                }
                c => value.push(c),
            }
        }
        let end = end?;
        labels.push((key.trim_start_matches(',').trim().to_owned(), value));
        rest = after[end + 1..].trim_start_matches(',');
    }
    Some(labels)
}

/// A summary's quantiles (by label value, e.g. `"0.99"`), sum and count.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Summary {
    pub(crate) quantiles: BTreeMap<String, f64>,
    pub(crate) sum: f64,
    pub(crate) count: f64,
}

/// The summary called `name` (all label sets other than `quantile` merged: the bench's
/// histograms have none).
pub(crate) fn summary(samples: &[Sample], name: &str) -> Option<Summary> {
    let mut out = Summary::default();
    let mut found = false;
    for sample in samples {
        if sample.name == name {
            if let Some((_, q)) = sample.labels.iter().find(|(k, _)| k == "quantile") {
                found = true;
                let slot = out.quantiles.entry(q.clone()).or_insert(f64::NEG_INFINITY);
                *slot = slot.max(sample.value);
            }
        } else if sample.name.strip_prefix(name) == Some("_sum") {
            found = true;
            out.sum += sample.value;
        } else if sample.name.strip_prefix(name) == Some("_count") {
            found = true;
            out.count += sample.value;
        }
    }
    found.then_some(out)
}

/// The sum over every label set of a counter or gauge; 0 if absent.
pub(crate) fn total(samples: &[Sample], name: &str) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.value)
        .sum()
}

/// A counter's values split by one label.
pub(crate) fn by_label(samples: &[Sample], name: &str, label: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for sample in samples.iter().filter(|s| s.name == name) {
        let key = sample
            .labels
            .iter()
            .find(|(k, _)| k == label)
            .map_or_else(String::new, |(_, v)| v.clone());
        *out.entry(key).or_insert(0.0) += sample.value;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# TYPE voice_transcript_to_llm_request_seconds summary
voice_transcript_to_llm_request_seconds{quantile="0"} 0.0001
voice_transcript_to_llm_request_seconds{quantile="0.5"} 0.00025
voice_transcript_to_llm_request_seconds{quantile="0.99"} 0.0019
voice_transcript_to_llm_request_seconds{quantile="1"} 0.004
voice_transcript_to_llm_request_seconds_sum 0.05
voice_transcript_to_llm_request_seconds_count 120
# TYPE voice_calls_total counter
voice_calls_total{call_type="inbound",outcome="completed"} 7
voice_calls_total{call_type="inbound",outcome="hung_up"} 2
voice_active_calls 3
weird_label{a="x\"y,z",b="2"} 1
not a sample line
"#;

    #[test]
    fn reads_summaries_counters_and_escaped_labels() {
        let samples = parse(TEXT);
        let summary = summary(&samples, "voice_transcript_to_llm_request_seconds").unwrap();
        assert_eq!(summary.quantiles["0.99"], 0.0019);
        assert_eq!(summary.quantiles["1"], 0.004);
        assert_eq!(summary.count, 120.0);
        assert_eq!(summary.sum, 0.05);
        assert_eq!(total(&samples, "voice_calls_total"), 9.0);
        assert_eq!(total(&samples, "voice_active_calls"), 3.0);
        assert_eq!(
            by_label(&samples, "voice_calls_total", "outcome")["hung_up"],
            2.0
        );
        let weird = samples.iter().find(|s| s.name == "weird_label").unwrap();
        assert_eq!(
            weird.labels,
            vec![
                ("a".to_owned(), "x\"y,z".to_owned()),
                ("b".to_owned(), "2".to_owned())
            ]
        );
        assert!(super::summary(&samples, "voice_missing_seconds").is_none());
    }
}
