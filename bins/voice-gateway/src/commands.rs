//! The one-shot subcommands: `migrate`, `seed-demo`, `nlu`, `report`.

use std::{
    io::{BufRead, Write},
    path::Path,
};

use anyhow::Context;
use chrono::{DateTime, Utc};
use tracing::info;

use crate::{app::load_shop, config::Config};

/// The CRM at `DATABASE_URL`, migrated.
async fn connect(config: &Config, shop: conversation::ShopConfig) -> anyhow::Result<crm::Crm> {
    crm::connect_and_migrate(
        config.database_url.expose(),
        &crm::CrmConfig::default(),
        shop,
    )
    .await
    .with_context(|| format!("connecting to {}", config.database_url_redacted()))
}

/// `voice-gateway migrate`.
pub(crate) async fn migrate(config: &Config) -> anyhow::Result<()> {
    crm::migrate(config.database_url.expose(), &crm::CrmConfig::default())
        .await
        .with_context(|| format!("migrating {}", config.database_url_redacted()))?;
    info!(database = %config.database_url_redacted(), "migrations applied");
    Ok(())
}

/// `voice-gateway init-shop PATH`: writes the commented starter configuration for a shop to edit
/// (never over an existing file).
pub(crate) fn init_shop(path: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    file.write_all(conversation::DEFAULT_SHOP_TOML.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    info!(path = %path.display(), "starter shop configuration written; edit it and set SHOP_CONFIG");
    Ok(())
}

/// `voice-gateway seed-demo`: the demo data from `file`, or the copy built into the binary, with
/// its dates moved to the weeks around `now` (see `crm::seed`).
pub(crate) async fn seed_demo(
    config: &Config,
    file: Option<&Path>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let shop = load_shop(config.shop_config.as_deref())?;
    let crm = connect(config, shop).await?;
    let text = match file {
        Some(file) => {
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
        }
        None => crm::DEMO_JSON.to_owned(),
    };
    let report = crm
        .seed_demo(&text, now)
        .await
        .context("loading the demo data")?;
    info!(?report, "demo data loaded");
    Ok(())
}

/// `voice-gateway nlu`: one JSON line out per line in.
pub(crate) fn nlu(
    config: &Config,
    now: Option<&str>,
    shop: Option<&Path>,
    input: impl BufRead,
    mut output: impl Write,
) -> anyhow::Result<()> {
    let now = parse_now(now)?.unwrap_or_else(Utc::now);
    let shop = load_shop(shop.or(config.shop_config.as_deref()))?;
    for line in input.lines() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let result = conversation::nlu::analyze_line(&line, now, &shop);
        writeln!(output, "{result}").context("writing stdout")?;
    }
    Ok(())
}

/// The `--now` option, RFC 3339.
fn parse_now(now: Option<&str>) -> anyhow::Result<Option<DateTime<Utc>>> {
    now.map(|raw| {
        DateTime::parse_from_rfc3339(raw)
            .context("--now must be RFC 3339")
            .map(|at| at.with_timezone(&Utc))
    })
    .transpose()
}

/// How `report` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ReportFormat {
    /// A table for a terminal.
    Table,
    /// The whole report as JSON.
    Json,
    /// One row per group.
    Csv,
}

/// `voice-gateway report`: flows completed, escalated and abandoned per call type, intent and
/// shop-local day over `from..=to` (default: the 7 days up to today), with bookings, escalation
/// reasons and voice-to-voice latency.
pub(crate) async fn report(
    config: &Config,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    format: ReportFormat,
    now: DateTime<Utc>,
    mut output: impl Write,
) -> anyhow::Result<()> {
    let shop = load_shop(config.shop_config.as_deref())?;
    let today = now.with_timezone(&shop.timezone).date_naive();
    let to = to.unwrap_or(today);
    let from = from.unwrap_or_else(|| to - chrono::Days::new(6));
    let crm = connect(config, shop).await?;
    let report = crm
        .report(from, to)
        .await
        .context("reading the call records")?;
    let text = match format {
        ReportFormat::Table => report.to_table(),
        ReportFormat::Json => {
            let mut json = serde_json::to_string_pretty(&report).context("writing JSON")?;
            json.push('\n');
            json
        }
        ReportFormat::Csv => report.to_csv(),
    };
    output
        .write_all(text.as_bytes())
        .context("writing stdout")?;
    Ok(())
}

/// What `nlu --score` prints besides each split's score.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ScoreOptions<'a> {
    /// Only this split.
    pub split: Option<&'a str>,
    /// List the held-out misses too.
    pub show_heldout_misses: bool,
    /// Cross-validate the learned model over the `tune` split in this many blocks.
    pub cross_validate: Option<usize>,
}

/// `voice-gateway nlu --score FILE`: the score of each split (or of `split` only).
pub(crate) fn nlu_score(
    config: &Config,
    now: Option<&str>,
    shop: Option<&Path>,
    file: &Path,
    options: ScoreOptions<'_>,
    mut output: impl Write,
) -> anyhow::Result<()> {
    let ScoreOptions {
        split,
        show_heldout_misses,
        cross_validate,
    } = options;
    // The project's labels are written for this moment (fixtures/nlu/README.md).
    let now = match parse_now(now)? {
        Some(now) => now,
        None => parse_now(Some("2026-11-24T15:00:00Z"))?.context("the default scoring time")?,
    };
    let shop = load_shop(shop.or(config.shop_config.as_deref()))?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let lines = conversation::score::parse_labelled(&text)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("parsing {}", file.display()))?;
    let mut splits: Vec<String> = lines.iter().map(|line| line.split.clone()).collect();
    splits.sort();
    splits.dedup();
    for name in splits
        .iter()
        .filter(|name| split.is_none_or(|wanted| wanted == name.as_str()))
    {
        let part: Vec<_> = lines
            .iter()
            .filter(|line| &line.split == name)
            .cloned()
            .collect();
        let label = if name.is_empty() { "(no split)" } else { name };
        writeln!(output, "== {label}: {} utterances", part.len()).context("writing stdout")?;
        let mut score = conversation::score::score(&part, now, &shop);
        // A held-out part measures phrasings nobody tuned for only while nobody reads its
        // misses (fixtures/nlu/README.md), so they are shown only when asked for.
        let hidden = name == "heldout" && !show_heldout_misses && !score.misses.is_empty();
        if hidden {
            score.misses.clear();
        }
        writeln!(output, "{score}").context("writing stdout")?;
        if hidden {
            writeln!(
                output,
                "(the held-out misses are not shown: --show-heldout-misses shows them, and \
                 then the part no longer measures unseen phrasings)"
            )
            .context("writing stdout")?;
        }
        // Only the tuning part: cross-validating on the held-out part would be tuning on it.
        if let (Some(folds), "tune") = (cross_validate, name.as_str()) {
            let (tally, folds) = conversation::score::cross_validate(&part, folds, now, &shop);
            writeln!(
                output,
                "learned model, {folds}-fold cross-validation: intent {:.1} % ({}/{})",
                tally.percent(),
                tally.correct,
                tally.total
            )
            .context("writing stdout")?;
            let second = conversation::score::cross_validate_second_look(&part, folds, now, &shop);
            writeln!(
                output,
                "second look at escalations, {folds}-fold cross-validation: the patterns alone \
                 found {} escalations, with {} false alarms",
                second.found, second.false_alarms
            )
            .context("writing stdout")?;
            for (threshold, escalations, alarms) in &second.taken_back {
                writeln!(
                    output,
                    "  taken back below {threshold}: {escalations} escalations, {alarms} false alarms"
                )
                .context("writing stdout")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn nlu_prints_one_json_line_per_input_line() {
        let config = Config::from_lookup(|key| {
            HashMap::from([("SHOP_CONFIG", "../../fixtures/shop.toml")])
                .get(key)
                .map(|v| (*v).to_owned())
        })
        .unwrap();
        let input = "Hi, I need to schedule an oil change\n\nWhat are your hours?\n{not json\n";
        let mut output = Vec::new();
        nlu(
            &config,
            Some("2026-11-24T15:00:00Z"),
            None,
            input.as_bytes(),
            &mut output,
        )
        .unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(output)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["intent"], "schedule_appointment");
        assert_eq!(lines[0]["state"], "slot_collection");
        assert_eq!(lines[0]["collected_slots"]["service_type"], "oil change");
        assert_eq!(lines[1]["intent"], "check_hours");
        assert_eq!(lines[1]["state"], "execution");
        assert!(lines[2]["error"].is_string());
    }

    #[test]
    fn nlu_score_prints_each_split() {
        let config = Config::from_lookup(|key| {
            HashMap::from([("SHOP_CONFIG", "../../fixtures/shop.toml")])
                .get(key)
                .map(|v| (*v).to_owned())
        })
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("labels.jsonl");
        std::fs::write(
            &file,
            concat!(
                r#"{"id":"h1","split":"heldout","text":"what are your hours","intent":"check_hours"}"#,
                "\n",
                r#"{"id":"h2","split":"heldout","text":"is the truck ready yet","intent":"pricing_inquiry"}"#,
                "\n",
                r#"{"id":"t1","split":"tune","text":"how much is an oil change","intent":"pricing_inquiry","services":["oil change"]}"#,
                "\n",
            ),
        )
        .unwrap();
        let mut output = Vec::new();
        nlu_score(
            &config,
            None,
            None,
            &file,
            ScoreOptions::default(),
            &mut output,
        )
        .unwrap();
        let text = String::from_utf8(output).unwrap();
        assert!(text.contains("== heldout: 2 utterances"), "{text}");
        assert!(text.contains("== tune: 1 utterances"), "{text}");
        // The held-out miss is counted but its line is not shown unless asked for.
        assert!(
            text.contains("pricing_inquiry -> check_status: 1"),
            "{text}"
        );
        assert!(!text.contains("truck ready"), "{text}");
        assert!(text.contains("--show-heldout-misses"), "{text}");
        let mut only = Vec::new();
        let options = ScoreOptions {
            split: Some("heldout"),
            show_heldout_misses: true,
            cross_validate: Some(2),
        };
        nlu_score(&config, None, None, &file, options, &mut only).unwrap();
        let only = String::from_utf8(only).unwrap();
        assert!(!only.contains("== tune"));
        assert!(only.contains("truck ready"), "{only}");
        // Cross-validation reads the tuning part only.
        assert!(!only.contains("cross-validation"), "{only}");
        // Four tuning lines: a fold of two learns from the other two.
        let mut text = std::fs::read_to_string(&file).unwrap();
        for line in [
            r#"{"id":"t2","split":"tune","text":"can i get brakes on friday","intent":"schedule_appointment","services":["brake service"],"date":"2026-11-27"}"#,
            r#"{"id":"t3","split":"tune","text":"thanks bye","intent":null}"#,
            r#"{"id":"t4","split":"tune","text":"what are your hours on saturday","intent":"check_hours","date":"2026-11-28"}"#,
        ] {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(&file, text).unwrap();
        let mut tune = Vec::new();
        let options = ScoreOptions {
            split: Some("tune"),
            cross_validate: Some(50),
            ..ScoreOptions::default()
        };
        nlu_score(&config, None, None, &file, options, &mut tune).unwrap();
        let tune = String::from_utf8(tune).unwrap();
        // More folds than lines: one line per fold, and the output says so.
        assert!(
            tune.contains("learned model, 4-fold cross-validation: intent "),
            "{tune}"
        );
        assert!(tune.contains("/4)"), "{tune}");
    }

    /// `report` over a real SQLite database: the default range is the 7 shop-local days up to
    /// today (from the injected clock), in each format.
    #[tokio::test]
    async fn report_prints_the_calls_of_the_range_in_each_format() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("r.db").display());
        let config =
            Config::from_lookup(|key| (key == "DATABASE_URL").then(|| url.clone())).unwrap();
        let shop = load_shop(None).unwrap();
        let crm = crm::connect_and_migrate(&url, &crm::CrmConfig::default(), shop)
            .await
            .unwrap();
        let now = parse_now(Some("2026-11-24T15:00:00Z")).unwrap().unwrap();
        for (sid, days_ago) in [("CA1", 0), ("CA2", 6), ("CA3", 7)] {
            let started = now - chrono::Duration::days(days_ago);
            crm.record_call(&crm::CallRecord {
                call_sid: sid.into(),
                customer_id: None,
                caller_phone: "+14135550150".into(),
                direction: crm::CallDirection::Inbound,
                call_type: Some("inbound_new".into()),
                started_at: started,
                ended_at: Some(started + chrono::Duration::minutes(2)),
                status: "completed".into(),
                summary: Some(serde_json::json!({"conversation": {"state": "closing", "intent": "check_hours"}})),
                transcript: None,
                escalated: false,
                escalation_reason: None,
                usage: crm::TokenUsage::default(),
            })
            .await
            .unwrap();
        }
        let run = async |format| {
            let mut out = Vec::new();
            report(&config, None, None, format, now, &mut out)
                .await
                .unwrap();
            String::from_utf8(out).unwrap()
        };
        let csv = run(ReportFormat::Csv).await;
        assert!(csv.contains("\ntotal,all,2,2,0,0,0,100.0,,\n"), "{csv}");
        assert!(csv.contains("\nday,2026-11-18,1,"), "{csv}");
        assert!(!csv.contains("2026-11-17"), "{csv}");
        let json: serde_json::Value = serde_json::from_str(&run(ReportFormat::Json).await).unwrap();
        assert_eq!(json["from"], "2026-11-18");
        assert_eq!(json["by_intent"]["check_hours"]["completed"], 2);
        assert!(run(ReportFormat::Table).await.contains("check_hours"));
    }
}
