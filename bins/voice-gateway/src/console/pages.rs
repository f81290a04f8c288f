//! The console's pages: what each template shows, built from the CRM's records and the live
//! calls. Only masked numbers are shown, except in the callback queue (staff call them back).

use askama::Template;
use chrono::{DateTime, Utc};
use conversation::ShopConfig;
use serde_json::Value;

use super::hub::{ConsoleHub, LiveCall};

#[derive(Template)]
#[template(path = "console/login.html")]
pub(crate) struct Login {
    pub(crate) shop: String,
    pub(crate) failed: bool,
}

/// The live calls table (also sent alone over server-sent events).
#[derive(Template)]
#[template(path = "console/live.html")]
pub(crate) struct Live {
    pub(crate) calls: Vec<LiveCall>,
}

impl Live {
    pub(crate) fn of(hub: &ConsoleHub) -> Live {
        Live {
            calls: hub.live_calls(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
pub(crate) struct Dashboard {
    pub(crate) shop: String,
    pub(crate) live: Live,
    pub(crate) recent: Vec<CallRow>,
    pub(crate) open_callbacks: usize,
    /// Every gateway on the shared session store (`fleet.rs`).
    pub(crate) fleet: crate::fleet::View,
}

/// One recent call.
pub(crate) struct CallRow {
    pub(crate) call_sid: String,
    pub(crate) started: String,
    pub(crate) caller: String,
    pub(crate) call_type: String,
    pub(crate) status: String,
    pub(crate) intent: String,
    pub(crate) escalation: String,
    pub(crate) bookings: u32,
    pub(crate) tokens: u32,
}

impl CallRow {
    pub(crate) fn of(record: &crm::CallRecord, shop: &ShopConfig) -> CallRow {
        let conversation = &record
            .summary
            .as_ref()
            .map_or(Value::Null, |summary| summary["conversation"].clone());
        CallRow {
            call_sid: record.call_sid.clone(),
            started: local_time(record.started_at, shop),
            caller: masked(&record.caller_phone),
            call_type: record.call_type.clone().unwrap_or_default(),
            status: record.status.clone(),
            intent: conversation["intent"].as_str().unwrap_or("").to_owned(),
            escalation: record.escalation_reason.clone().unwrap_or_default(),
            bookings: crm::report::bookings_in(record.transcript.as_ref()),
            tokens: record.usage.total_tokens,
        }
    }
}

fn masked(phone: &str) -> String {
    if phone.is_empty() || phone == "unknown" {
        "withheld".to_owned()
    } else {
        crm::mask_phone(phone)
    }
}

fn local_time(at: DateTime<Utc>, shop: &ShopConfig) -> String {
    at.with_timezone(&shop.timezone)
        .format("%a %b %-d, %-I:%M %p")
        .to_string()
}

fn ms(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "–".to_owned(), |ms| format!("{ms:.0}"))
}

#[derive(Template)]
#[template(path = "console/call.html")]
pub(crate) struct CallPage {
    pub(crate) shop: String,
    pub(crate) row: CallRow,
    pub(crate) state: String,
    pub(crate) slots: Vec<(String, String)>,
    /// `(speaker, words)`: the caller, the agent, and tools as `tool` lines.
    pub(crate) transcript: Vec<(String, String)>,
    pub(crate) turns: Vec<TurnRow>,
    pub(crate) audio: bool,
    /// The Twilio recording, when the call was recorded.
    pub(crate) recording: Option<RecordingRow>,
}

/// A call's Twilio recording (played from Twilio's console; its URL needs the account's
/// credentials, so the page says where it is rather than linking to it).
pub(crate) struct RecordingRow {
    pub(crate) sid: String,
    pub(crate) deleted: Option<String>,
}

impl RecordingRow {
    pub(crate) fn of(recording: &crm::CallRecording, shop: &ShopConfig) -> RecordingRow {
        RecordingRow {
            sid: recording.recording_sid.clone(),
            deleted: recording.deleted_at.map(|at| local_time(at, shop)),
        }
    }
}

/// One agent turn's latency.
pub(crate) struct TurnRow {
    pub(crate) turn: String,
    pub(crate) kind: String,
    pub(crate) voice_to_voice: String,
    pub(crate) llm_first_token: String,
    pub(crate) tts_first_audio: String,
    pub(crate) interrupted: bool,
}

impl CallPage {
    pub(crate) fn of(
        shop_name: &str,
        record: &crm::CallRecord,
        shop: &ShopConfig,
        audio: bool,
    ) -> CallPage {
        let summary = record.summary.clone().unwrap_or(Value::Null);
        let conversation = &summary["conversation"];
        let slots = super::hub::slot_pairs(&conversation["collected_slots"]);
        let transcript = record
            .transcript
            .as_ref()
            .and_then(Value::as_array)
            .map(|messages| messages.iter().filter_map(transcript_line).collect())
            .unwrap_or_default();
        let offline: Vec<u64> = summary["offline_turns"]
            .as_array()
            .map(|turns| turns.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let turns = summary["timings"]
            .as_array()
            .map(|turns| {
                turns
                    .iter()
                    .map(|t| {
                        let turn = t["turn"].as_u64().unwrap_or_default();
                        let kind = if t["from_llm"] != Value::Bool(true) {
                            "line"
                        } else if offline.contains(&turn) {
                            "offline agent"
                        } else {
                            "model"
                        };
                        TurnRow {
                            turn: turn.to_string(),
                            kind: kind.to_owned(),
                            voice_to_voice: ms(&t["voice_to_voice_ms"]),
                            llm_first_token: ms(&t["llm_first_token_ms"]),
                            tts_first_audio: ms(&t["tts_first_audio_ms"]),
                            interrupted: t["interrupted"] == Value::Bool(true),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        CallPage {
            shop: shop_name.to_owned(),
            row: CallRow::of(record, shop),
            state: conversation["state"].as_str().unwrap_or("").to_owned(),
            slots,
            transcript,
            turns,
            audio,
            recording: None,
        }
    }
}

/// A history message as a transcript line; tool calls as one short line each.
fn transcript_line(message: &Value) -> Option<(String, String)> {
    match message["role"].as_str()? {
        "user" => Some(("caller".to_owned(), message["content"].as_str()?.to_owned())),
        "assistant" => match message["content"].as_str() {
            Some(text) => Some(("agent".to_owned(), text.to_owned())),
            None => {
                let names: Vec<&str> = message["tool_calls"]
                    .as_array()?
                    .iter()
                    .filter_map(|call| call["name"].as_str())
                    .collect();
                Some(("tool".to_owned(), names.join(", ")))
            }
        },
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "console/callbacks.html")]
pub(crate) struct Callbacks {
    pub(crate) shop: String,
    pub(crate) open: Vec<CallbackRow>,
    pub(crate) done: Vec<CallbackRow>,
}

pub(crate) struct CallbackRow {
    pub(crate) id: i64,
    pub(crate) call_sid: String,
    pub(crate) phone: String,
    pub(crate) reason: String,
    pub(crate) when: String,
    /// The caller's name, when the agent took a message.
    pub(crate) name: String,
    /// The message, in the caller's words.
    pub(crate) message: String,
}

impl Callbacks {
    pub(crate) fn of(shop: &ShopConfig, requests: &[crm::CallbackRequest]) -> Callbacks {
        let row = |request: &crm::CallbackRequest| CallbackRow {
            id: request.id,
            call_sid: request.call_sid.clone(),
            phone: request.phone.clone(),
            reason: request.reason.clone().unwrap_or_default().replace('_', " "),
            when: local_time(request.created_at, shop),
            name: request.caller_name.clone().unwrap_or_default(),
            message: request.message.clone().unwrap_or_default(),
        };
        Callbacks {
            shop: shop.name.clone(),
            open: requests
                .iter()
                .filter(|r| r.status == "open")
                .map(row)
                .collect(),
            done: requests
                .iter()
                .filter(|r| r.status != "open")
                .map(row)
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "console/analytics.html")]
pub(crate) struct Analytics {
    pub(crate) shop: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) total: TallyRow,
    /// Per call type, then per intent.
    pub(crate) groups: Vec<(&'static str, Vec<TallyRow>)>,
    pub(crate) reasons: Vec<(String, u32)>,
    pub(crate) chart: Chart,
}

/// A group's counts, with bar widths (percent of the largest group).
pub(crate) struct TallyRow {
    pub(crate) name: String,
    pub(crate) calls: u32,
    pub(crate) escalated: u32,
    pub(crate) abandoned: u32,
    pub(crate) bookings: u32,
    pub(crate) completion: String,
    pub(crate) p50: String,
    pub(crate) p95: String,
    pub(crate) completed_pct: f64,
    pub(crate) escalated_pct: f64,
    pub(crate) abandoned_pct: f64,
}

impl TallyRow {
    fn of(name: &str, tally: &crm::report::Tally, widest: u32) -> TallyRow {
        let pct = |n: u32| f64::from(n) * 100.0 / f64::from(widest.max(1));
        let latency = |ms: Option<f64>| ms.map_or_else(|| "–".to_owned(), |ms| format!("{ms:.0}"));
        TallyRow {
            name: name.replace('_', " "),
            calls: tally.calls,
            escalated: tally.escalated,
            abandoned: tally.abandoned,
            bookings: tally.bookings,
            completion: format!("{:.1}", tally.completion_rate_pct),
            p50: latency(tally.voice_to_voice_p50_ms),
            p95: latency(tally.voice_to_voice_p95_ms),
            completed_pct: pct(tally.completed),
            escalated_pct: pct(tally.escalated),
            abandoned_pct: pct(tally.abandoned),
        }
    }
}

/// Calls per day as stacked bars, drawn as SVG on the server.
pub(crate) struct Chart {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) bars: Vec<Bar>,
    pub(crate) max: u32,
}

pub(crate) struct Bar {
    pub(crate) x: u32,
    pub(crate) label: String,
    pub(crate) title: String,
    /// `(y, height, class)` from the bottom up.
    pub(crate) segments: Vec<(f64, f64, &'static str)>,
}

const CHART_HEIGHT: u32 = 160;
const BAR_STEP: u32 = 36;

impl Analytics {
    pub(crate) fn of(shop: &str, report: &crm::report::Report) -> Analytics {
        let widest = |tallies: &mut dyn Iterator<Item = &crm::report::Tally>| {
            tallies.map(|t| t.calls).max().unwrap_or(0)
        };
        let types_widest = widest(&mut report.by_call_type.values());
        let intents_widest = widest(&mut report.by_intent.values());
        let max = widest(&mut report.by_day.values()).max(1);
        let scale = f64::from(CHART_HEIGHT - 20) / f64::from(max);
        let bars = report
            .by_day
            .iter()
            .enumerate()
            .map(|(index, (day, tally))| {
                let mut y = f64::from(CHART_HEIGHT - 20);
                let mut segments = Vec::new();
                for (count, class) in [
                    (tally.completed, "completed"),
                    (tally.escalated, "escalated"),
                    (tally.abandoned, "abandoned"),
                ] {
                    let height = f64::from(count) * scale;
                    y -= height;
                    if count > 0 {
                        segments.push((y, height, class));
                    }
                }
                Bar {
                    x: 30 + index as u32 * BAR_STEP,
                    label: day.format("%-m/%-d").to_string(),
                    title: format!(
                        "{day}: {} calls, {} completed, {} escalated, {} abandoned",
                        tally.calls, tally.completed, tally.escalated, tally.abandoned
                    ),
                    segments,
                }
            })
            .collect::<Vec<_>>();
        Analytics {
            shop: shop.to_owned(),
            from: report.from.to_string(),
            to: report.to.to_string(),
            total: TallyRow::of("all calls", &report.total, report.total.calls),
            groups: vec![
                (
                    "Per call type",
                    report
                        .by_call_type
                        .iter()
                        .map(|(name, tally)| TallyRow::of(name, tally, types_widest))
                        .collect(),
                ),
                (
                    "Per intent",
                    report
                        .by_intent
                        .iter()
                        .map(|(name, tally)| TallyRow::of(name, tally, intents_widest))
                        .collect(),
                ),
            ],
            reasons: report
                .escalation_reasons
                .iter()
                .map(|(reason, count)| (reason.replace('_', " "), *count))
                .collect(),
            chart: Chart {
                width: 40 + bars.len() as u32 * BAR_STEP,
                height: CHART_HEIGHT,
                bars,
                max,
            },
        }
    }
}

#[derive(Template)]
#[template(path = "console/try.html")]
pub(crate) struct TryIt {
    pub(crate) shop: String,
    pub(crate) call_sid: Option<String>,
    pub(crate) lines: Vec<(&'static str, String)>,
    pub(crate) ended: bool,
}

/// The caller's audio of a capture (`docs/captures.md`: the `media` frames Twilio sent) as a
/// 16-bit PCM WAV file.
pub(crate) fn caller_audio_wav(capture: &str) -> anyhow::Result<Vec<u8>> {
    let mut mulaw = Vec::new();
    for line in capture.lines() {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if entry["kind"] != "twilio_in" {
            continue;
        }
        let Some(frame) = entry["frame"].as_str() else {
            continue;
        };
        if let Ok(twilio::media::Inbound::Media(media)) = twilio::media::decode(frame) {
            mulaw.extend_from_slice(&media.payload);
        }
    }
    let mut wav = std::io::Cursor::new(Vec::new());
    audio_codec::write_wav_mulaw(&mut wav, &mulaw)?;
    Ok(wav.into_inner())
}
