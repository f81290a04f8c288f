//! `cargo xtask make-fixture <script.json>…`: turns a scenario script into a call capture made by
//! the real pipeline, `<name>.jsonl` next to the script (`<name>.script.json`), and writes its
//! expectations (`<name>.expect.json`) with a `--fast` replay.
//!
//! The call runs in real time: a simulated caller speaks the script's lines as real audio
//! (`espeak-ng`, converted to 8 kHz μ-law with audio-codec), the recogniser emits the script's
//! transcripts as the caller speaks, the LLM gives the script's replies and the CRM the script's
//! tool results, and the pipeline records it all with `CAPTURE_DIR` semantics. Only making a
//! fixture needs `espeak-ng`; replaying one needs nothing.
//!
//! # Script format (JSON)
//!
//! ```text
//! {
//!   "description": "what the fixture shows",
//!   "call_sid": "CA…",  "stream_sid": "MZ…",       unique per fixture
//!   "from": "+14135550100",                         the caller (looked up in the demo CRM)
//!   "parameters": {"call_type": "outbound_reminder", …},   more custom stream parameters
//!   "now": "2026-11-24T15:00:00Z",                  the clock of the call
//!   "tts_ms_per_char": 40,                          agent audio per character of text
//!   "can_transfer": false,                          an advisor number is configured
//!   "caller": [                                     in order; each waits for its moment:
//!     {"say": "words spoken", "transcript": "what STT hears", "interim": "optional partial",
//!      "rate": 170, "gap_ms": 500},                 words per minute; after the agent finished
//!                                                   speaking + gap
//!     {"say": "mm-hmm", "transcript": "Mm-hmm.", "during_agent_ms": 1200},
//!                                                   once this much of the agent's reply played
//!     {"dtmf": "0", "gap_ms": 300},
//!     {"hang_up": true, "gap_ms": 300}
//!   ],
//!   "llm": [ {"text": "reply"}, {"tool_calls": [{"name": "…", "arguments": {…}}]} ],
//!   "tools": [ {"name": "…", "result": {…}} ]      CRM answers, in order
//! }
//! ```
//!
//! Recognition of each line: `speech_started` 80 ms into the speech, the `interim` halfway, and
//! a final `speech_final` transcript 240 ms after the speech ends (all keyed by audio frames).

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use providers::{
    FinishReason, ToolCall, Usage,
    fake::{FakeLlm, FakeStt, LlmReply, LlmStep, SttScript, SttScriptEvent, SttStep, SttTrigger},
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;
use twilio::media::Inbound;

use super::{
    CallInfo, CallSetup, Options,
    capture::{ACCOUNT_SID, RecordedTool, parse_capture},
    phone::{FRAME_BYTES, SILENCE, Tracks, TwilioSide},
    providers::{COMMAND_QUEUE_LEN, replay_crm},
    replay_file, run_call_with,
};

impl Script {
    /// The call as Twilio presents it: `from` and `parameters` are the stream parameters the
    /// gateway's TwiML gives it.
    fn call_info(&self) -> CallInfo {
        let mut parameters: std::collections::BTreeMap<String, String> = self
            .parameters
            .iter()
            .filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned())))
            .collect();
        if let Some(from) = &self.from {
            parameters.insert("From".to_owned(), from.clone());
        }
        CallInfo {
            call_sid: self.call_sid.clone(),
            account_sid: ACCOUNT_SID.to_owned(),
            parameters,
        }
    }
}

/// A scenario script (see the module docs).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Script {
    #[serde(default)]
    description: String,
    call_sid: String,
    stream_sid: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    parameters: Map<String, Value>,
    now: DateTime<Utc>,
    #[serde(default = "default_ms_per_char")]
    tts_ms_per_char: u64,
    #[serde(default)]
    can_transfer: bool,
    /// Start LLM replies early (`PipelineConfig::early_replies`). Off unless a script asks: the
    /// script's `llm` answers go to requests in order, and an early reply that is dropped takes
    /// one of them.
    #[serde(default)]
    early_replies: bool,
    caller: Vec<CallerLine>,
    #[serde(default)]
    llm: Vec<LlmLine>,
    #[serde(default)]
    tools: Vec<ToolLine>,
}

fn default_ms_per_char() -> u64 {
    40
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallerLine {
    #[serde(default)]
    say: Option<String>,
    #[serde(default)]
    transcript: Option<String>,
    #[serde(default)]
    interim: Option<String>,
    #[serde(default)]
    rate: Option<u32>,
    #[serde(default)]
    dtmf: Option<String>,
    #[serde(default)]
    hang_up: bool,
    #[serde(default)]
    gap_ms: Option<u64>,
    #[serde(default)]
    during_agent_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LlmLine {
    #[serde(default)]
    text: String,
    #[serde(default)]
    tool_calls: Vec<ToolCallLine>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolCallLine {
    name: String,
    arguments: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolLine {
    name: String,
    result: Value,
}

/// Entry point of `cargo xtask make-fixture`.
pub(crate) fn main(args: Vec<String>) -> anyhow::Result<()> {
    if args.is_empty() || args.iter().any(|a| a == "-h" || a == "--help") {
        println!(
            "cargo xtask make-fixture <name.script.json>...\n\n\
             Makes <name>.jsonl (a capture by the real pipeline) and <name>.expect.json next to\n\
             each script. Needs espeak-ng. Script format: xtask/src/replay/fixture.rs."
        );
        return Ok(());
    }
    let runtime = tokio::runtime::Runtime::new().context("starting tokio")?;
    runtime.block_on(async {
        let mut calls = tokio::task::JoinSet::new();
        for arg in args {
            calls.spawn(async move {
                let path = PathBuf::from(&arg);
                (arg, make_fixture(&path).await)
            });
        }
        let mut failed = 0;
        while let Some(joined) = calls.join_next().await {
            match joined {
                Ok((arg, Ok(capture))) => println!("{arg}: wrote {}", capture.display()),
                Ok((arg, Err(err))) => {
                    failed += 1;
                    println!("{arg}: {err:#}");
                }
                Err(err) => {
                    failed += 1;
                    println!("a fixture task failed: {err}");
                }
            }
        }
        if failed > 0 {
            bail!("{failed} fixture(s) failed");
        }
        Ok(())
    })
}

/// Makes `<name>.jsonl` and `<name>.expect.json` from `<name>.script.json`.
async fn make_fixture(script_path: &Path) -> anyhow::Result<PathBuf> {
    let text = std::fs::read_to_string(script_path)
        .with_context(|| format!("reading {}", script_path.display()))?;
    let script: Script = serde_json::from_str(&text)
        .with_context(|| format!("parsing {}", script_path.display()))?;
    let file_name = script_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(name) = file_name.strip_suffix(".script.json") else {
        bail!("a script is named <name>.script.json");
    };
    let dir = script_path.parent().unwrap_or(Path::new("."));
    let capture_path = dir.join(format!("{name}.jsonl"));
    println!("{name}: {}", script.description);

    let mut speech = Vec::new();
    for line in &script.caller {
        speech.push(match &line.say {
            Some(words) => Some(speak(words, line.rate.unwrap_or(170))?),
            None => None,
        });
    }
    let stt = FakeStt::new(SttScript::new()).with_command_queue(COMMAND_QUEUE_LEN);
    let tools: Vec<RecordedTool> = script
        .tools
        .iter()
        .map(|tool| RecordedTool {
            name: tool.name.clone(),
            result: tool.result.clone(),
        })
        .collect();
    let call = script.call_info();
    let crm = replay_crm(&tools, &call.numbers(), script.now).await?;
    let setup = CallSetup {
        stt: stt.clone(),
        llm: FakeLlm::with_replies(script.llm.iter().enumerate().map(llm_reply)),
        crm: std::sync::Arc::new(crm),
        tts_ms_per_char: script.tts_ms_per_char,
        tts_lengths: Vec::new(),
        now: script.now,
        can_transfer: script.can_transfer,
        fast: false,
        early_replies: script.early_replies,
        call,
    };
    let run = run_call_with(setup, |twilio, transfers| {
        let script = script.clone();
        async move { scripted_caller(twilio, &script, speech, stt, transfers).await }
    })
    .await?;
    std::fs::write(&capture_path, &run.capture_text)
        .with_context(|| format!("writing {}", capture_path.display()))?;
    // The expectations keep the script's audio rate; `--update` fills in the rest.
    let expect_file = super::expect_path(&capture_path);
    let settings = super::expect::with_settings(json!({}), script.tts_ms_per_char);
    std::fs::write(
        &expect_file,
        serde_json::to_string_pretty(&settings)? + "\n",
    )
    .with_context(|| format!("writing {}", expect_file.display()))?;
    let options = Options {
        fast: true,
        update: true,
        out: std::env::temp_dir().join("xtask-make-fixture"),
    };
    replay_file(&capture_path, &options).await?;
    // The fast replay wrote the expectations; the call as made must agree with them, or the
    // fixture depends on timing that `--fast` does not keep.
    let made = super::expect::recorded(&parse_capture(&run.capture_text)?);
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&expect_file)?)?;
    let diff = super::expect::diff(&expected, &made);
    if !diff.is_empty() {
        bail!(
            "the fast replay differs from the call as made:\n  {}",
            diff.join("\n  ")
        );
    }
    Ok(capture_path)
}

/// One scripted LLM round.
fn llm_reply((n, line): (usize, &LlmLine)) -> LlmReply {
    // A realistic time to first token; the rest streams word by word.
    let mut steps = vec![LlmStep::Wait(Duration::from_millis(150))];
    let mut words = 0;
    for word in line.text.split_inclusive(' ') {
        steps.push(LlmStep::Text(word.to_owned()));
        words += 1;
    }
    for (i, call) in line.tool_calls.iter().enumerate() {
        steps.push(LlmStep::ToolCall(ToolCall {
            id: format!("call_{}_{}", n + 1, i + 1),
            name: call.name.clone(),
            arguments: call.arguments.to_string(),
        }));
        words += 8;
    }
    steps.push(LlmStep::Finish(if line.tool_calls.is_empty() {
        FinishReason::Stop
    } else {
        FinishReason::ToolCalls
    }));
    steps.push(LlmStep::Usage(Usage {
        prompt_tokens: 600,
        completion_tokens: words,
        total_tokens: 600 + words,
    }));
    LlmReply::Stream(steps)
}

/// `words` spoken by espeak-ng, as 8 kHz μ-law padded to whole 20 ms frames.
fn speak(words: &str, rate: u32) -> anyhow::Result<Vec<u8>> {
    let wav_file = tempfile::Builder::new()
        .suffix(".wav")
        .tempfile()
        .context("making a temp file for espeak-ng")?;
    let output = Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", &rate.to_string(), "-w"])
        .arg(wav_file.path())
        .arg(words)
        .output()
        .context("running espeak-ng (apt-get install espeak-ng; only making fixtures needs it)")?;
    if !output.status.success() {
        bail!(
            "espeak-ng failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let wav_bytes = std::fs::read(wav_file.path()).context("reading espeak-ng's WAV")?;
    crate::corpus::wav_to_mulaw_frames(wav_bytes).context("espeak-ng's WAV")
}

/// A script that does not end the call is hung up after this long.
const MAX_CALL: Duration = Duration::from_secs(60);

/// Where the scripted caller is.
enum Doing {
    /// Waiting for the moment of `caller[next]`.
    Waiting,
    /// Speaking `caller[next - 1]`: bytes of its audio sent so far.
    Speaking(Vec<u8>, usize),
}

/// Plays the script's caller in real time: a media frame every 20 ms (speech or silence).
async fn scripted_caller(
    mut twilio: TwilioSide,
    script: &Script,
    mut speech: Vec<Option<Vec<u8>>>,
    stt: FakeStt,
    mut transfers: mpsc::UnboundedReceiver<()>,
) -> Tracks {
    let stream_sid = twilio::StreamSid::from_wire(script.stream_sid.as_str());
    let call = script.call_info();
    let connected = Inbound::Connected {
        protocol: "Call".to_owned(),
        version: "1.0.0".to_owned(),
    };
    twilio
        .send_frame(&connected.encode(&stream_sid), None)
        .await;
    // Sent with the parameters of the gateway's TwiML, as Twilio does (`TwilioSide::send_frame`).
    let seq = twilio.next_sequence();
    let start = twilio::sim::start_frame(&call.account_sid, &call.call_sid, &stream_sid, &[]);
    debug_assert_eq!(seq, 1);
    twilio.send_frame(&start, None).await;
    let stop = Inbound::Stop(twilio::media::Stop {
        sequence_number: 0,
        account_sid: twilio::AccountSid::from_wire(call.account_sid.as_str()),
        call_sid: twilio::CallSid::from_wire(call.call_sid.as_str()),
    })
    .encode(&stream_sid);

    let began = Instant::now();
    let mut last_tick = began;
    let mut next = 0;
    let mut doing = Doing::Waiting;
    // Agent audio played when the caller last finished an action, and when playback went idle.
    let mut played_at_action = 0u64;
    let mut idle_since: Option<Instant> = None;
    let mut frames_sent = 0u64;
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    loop {
        ticker.tick().await;
        let now = Instant::now();
        let played_before = twilio.played_total;
        twilio.play_for(now - last_tick).await;
        last_tick = now;
        if twilio.closed() {
            break;
        }
        if transfers.try_recv().is_ok() {
            // Twilio ends the stream once the REST redirect took the call.
            twilio.send_frame(&stop, None).await;
            break;
        }
        if twilio.agent_playing() || twilio.played_total > played_before {
            idle_since = None;
        } else if idle_since.is_none() {
            idle_since = Some(now);
        }
        if matches!(doing, Doing::Waiting) && next < script.caller.len() {
            let line = &script.caller[next];
            let agent_spoke = twilio.played_total > played_at_action;
            let ready = match line.during_agent_ms {
                Some(ms) => {
                    twilio.agent_playing() && twilio.played_total >= played_at_action + ms * 8
                }
                None => {
                    let gap = Duration::from_millis(line.gap_ms.unwrap_or(600));
                    agent_spoke && idle_since.is_some_and(|since| now - since >= gap)
                }
            };
            if ready {
                if let Some(audio) = speech[next].take() {
                    schedule_recognition(&stt, line, frames_sent, audio.len());
                    doing = Doing::Speaking(audio, 0);
                } else {
                    if let Some(digit) = &line.dtmf {
                        let seq = twilio.next_sequence();
                        let dtmf = Inbound::Dtmf(twilio::media::Dtmf {
                            sequence_number: seq,
                            track: twilio::media::Track::Inbound,
                            digit: digit.clone(),
                        });
                        twilio.send_frame(&dtmf.encode(&stream_sid), None).await;
                    }
                    if line.hang_up {
                        twilio.send_frame(&stop, None).await;
                        break;
                    }
                    played_at_action = twilio.played_total;
                }
                next += 1;
            }
        }
        let payload = match &mut doing {
            Doing::Speaking(audio, sent) => {
                let frame = audio[*sent..*sent + FRAME_BYTES].to_vec();
                *sent += FRAME_BYTES;
                if *sent >= audio.len() {
                    doing = Doing::Waiting;
                    played_at_action = twilio.played_total;
                }
                frame
            }
            Doing::Waiting => vec![SILENCE; FRAME_BYTES],
        };
        frames_sent += 1;
        let seq = twilio.next_sequence();
        let media = Inbound::Media(twilio::media::Media {
            sequence_number: seq,
            track: twilio::media::Track::Inbound,
            chunk: frames_sent,
            timestamp_ms: frames_sent * 20,
            payload: payload.clone(),
        });
        twilio
            .send_frame(&media.encode(&stream_sid), Some(&payload))
            .await;
        if now - began > MAX_CALL {
            // A script that never hangs up: end it like a caller would.
            twilio.send_frame(&stop, None).await;
            break;
        }
    }
    twilio.finish(false).await
}

/// Queues the recogniser's events for a line whose first frame is frame `first + 1`.
fn schedule_recognition(stt: &FakeStt, line: &CallerLine, first: u64, audio_len: usize) {
    let frames = (audio_len / FRAME_BYTES) as u64;
    let start_s = first as f64 * 0.02;
    let at = |n: u64, event: SttScriptEvent| SttStep {
        when: SttTrigger::AfterAudioFrames(n),
        event,
    };
    stt.push_step(at(
        first + 4,
        SttScriptEvent::SpeechStarted {
            timestamp_s: start_s + 0.08,
        },
    ));
    let transcript = |text: String, is_final: bool, confidence: f64, duration_s: f64| {
        SttScriptEvent::Transcript {
            text,
            is_final,
            speech_final: is_final,
            from_finalize: false,
            confidence,
            start_s,
            duration_s,
        }
    };
    if let Some(interim) = &line.interim {
        stt.push_step(at(
            first + frames / 2,
            transcript(interim.clone(), false, 0.8, frames as f64 * 0.01),
        ));
    }
    let text = line
        .transcript
        .clone()
        .or_else(|| line.say.clone())
        .unwrap_or_default();
    stt.push_step(at(
        first + frames + 12,
        transcript(text, true, 0.95, frames as f64 * 0.02),
    ));
}
