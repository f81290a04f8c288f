//! One bot turn: stream the LLM's reply, cut it into pieces for TTS, run tool calls against the CRM
//! and feed their results back, all under the turn's own cancellation token.
//!
//! The turn task never touches TTS or the socket: it sends `TurnEvent`s to the driver, which owns
//! the TTS handle and the playback state, so barge-in has one place to act.
//!
//! An early reply (started before the caller's turn was known to have ended) has a gate: the LLM
//! request goes out at once, but every event after `RequestSent`, and every tool call, waits
//! until the driver opens the gate; a dropped gate ends the turn with nothing said or done.

use conversation::EscalationReason;
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use providers::{
    ChatMessage, ChatRequest, LanguageModel, LlmEvent, ProviderError, ToolCall, Usage,
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{
    capture::Capture,
    config::PipelineConfig,
    ports::{CallCrm, ToolCallContext, ToolOutcome, ToolReply},
    sentences::SentenceSplitter,
};

/// What a turn tells the driver.
#[derive(Debug)]
pub(crate) enum TurnEvent {
    /// The LLM request went out.
    RequestSent { turn: u64, at: Instant },
    /// The first token of the reply arrived.
    FirstToken { turn: u64, at: Instant },
    /// A piece of reply text ready for TTS.
    Piece { turn: u64, text: String },
    /// The model called tools; both messages go into history together, and each call's name
    /// and typed outcome go to the conversation.
    ToolExchange {
        assistant: ChatMessage,
        results: Vec<ChatMessage>,
        outcomes: Vec<(String, ToolOutcome)>,
    },
    /// The reply is complete; `offline`: the offline agent answered it.
    Done {
        turn: u64,
        usage: Usage,
        offline: bool,
    },
    /// The caller's number went on the do-not-call list (`ok`), or could not.
    DoNotCallWritten { ok: bool },
    /// The model handed the caller to a person (`HAND_OFF_TOOL`), for this reason.
    HandOff { reason: EscalationReason },
    /// The turn failed before saying anything; the driver speaks the fallback line.
    Failed {
        turn: u64,
        error: String,
        usage: Usage,
    },
}

/// Everything a turn needs; moved into the task.
pub(crate) struct TurnInput {
    pub(crate) turn: u64,
    pub(crate) request: ChatRequest,
    /// The LLM; `None`: the offline agent answers.
    pub(crate) llm: Option<Arc<dyn LanguageModel>>,
    /// The offline agent for this turn, if the call has one.
    pub(crate) offline: Option<Arc<dyn LanguageModel>>,
    /// Set once the LLM failed on this call: its later turns go to the offline agent at once.
    pub(crate) llm_down: Arc<AtomicBool>,
    pub(crate) crm: Arc<dyn CallCrm>,
    pub(crate) tool_context: ToolCallContext,
    pub(crate) config: Arc<PipelineConfig>,
    pub(crate) turn_tx: mpsc::Sender<TurnEvent>,
    pub(crate) cancel: CancellationToken,
    pub(crate) capture: Option<Capture>,
    /// Bookings this call has made so far (shared by all of its turns).
    pub(crate) bookings: Arc<AtomicU32>,
    /// An early reply's gate: nothing but `RequestSent` goes out, and no tool runs, before it opens.
    pub(crate) gate: Option<oneshot::Receiver<()>>,
}

/// The turn's way to the driver, holding an early reply's events back until its gate opens.
struct Outbox {
    tx: mpsc::Sender<TurnEvent>,
    gate: Option<oneshot::Receiver<()>>,
    held: Vec<TurnEvent>,
    /// The gate was dropped: the reply is not wanted and nothing more is sent.
    dropped: bool,
}

impl Outbox {
    /// Waits for the gate (at once without one); false if the reply was dropped.
    async fn confirmed(&mut self) -> bool {
        if let Some(gate) = self.gate.take() {
            if gate.await.is_err() {
                self.dropped = true;
                self.held.clear();
                return false;
            }
            for event in self.held.drain(..) {
                let _ = self.tx.send(event).await;
            }
        }
        !self.dropped
    }

    async fn send(&mut self, event: TurnEvent) {
        if self.gate.is_some() && matches!(event, TurnEvent::RequestSent { .. }) {
            self.held.push(event);
            return;
        }
        if self.confirmed().await {
            let _ = self.tx.send(event).await;
        }
    }
}

/// Runs one bot turn to completion or cancellation.
pub(crate) async fn run_bot_turn(input: TurnInput) {
    let TurnInput {
        turn,
        mut request,
        llm,
        offline,
        llm_down,
        crm,
        tool_context,
        config,
        turn_tx,
        cancel,
        capture,
        bookings,
        gate,
    } = input;
    let mut outbox = Outbox {
        tx: turn_tx,
        gate,
        held: Vec::new(),
        dropped: false,
    };
    // The tools this turn offers (the CRM's and `HAND_OFF_TOOL`), as the request carries them.
    let known_tools: Vec<String> = request.tools.iter().map(|spec| spec.name.clone()).collect();
    let mut usage = Usage::default();
    let mut spoke = false;
    let mut first_token_seen = false;
    // The model answering this turn; the offline agent from the start when there is no LLM or
    // the LLM already failed on this call.
    let mut offline_answers =
        offline.is_some() && (llm.is_none() || llm_down.load(Ordering::Acquire));
    if llm.is_none() && offline.is_none() {
        warn!(turn, "no language model and no offline agent");
        outbox
            .send(TurnEvent::Failed {
                turn,
                error: "no language model".to_owned(),
                usage,
            })
            .await;
        return;
    }
    let mut round = 0;
    while round < config.max_tool_rounds.max(1) {
        let current: Arc<dyn LanguageModel> = match (&llm, &offline) {
            (_, Some(offline)) if offline_answers => offline.clone(),
            (Some(llm), _) => llm.clone(),
            // Checked above: without an LLM the offline agent answers.
            (None, _) => return,
        };
        // A round may be given up early only when something else can answer it.
        let budget = (!offline_answers && offline.is_some()).then_some(config.llm_fallback_after);
        let outcome = tokio::select! {
            _ = cancel.cancelled() => {
                // A dropped early reply's request is recorded too, so a replay asks its LLM the
                // same questions in the same order.
                if outbox.gate.is_some() && let Some(capture) = &capture {
                    capture.llm_round(turn, "", &[], Usage::default(), Some("early reply dropped"));
                }
                return;
            }
            outcome = tokio::time::timeout(
                config.llm_round_timeout,
                stream_round(
                    turn,
                    &request,
                    current.as_ref(),
                    &mut outbox,
                    &mut first_token_seen,
                    budget,
                ),
            ) => outcome,
        };
        let round_result = match outcome {
            Ok(result) => result,
            Err(_) => Err(ProviderError::Timeout(format!(
                "llm round took over {:?}",
                config.llm_round_timeout
            ))),
        };
        if let Some(capture) = &capture {
            match &round_result {
                Ok((text, calls, usage)) => {
                    capture.llm_round(turn, text.as_deref().unwrap_or(""), calls, *usage, None)
                }
                Err(err) => {
                    capture.llm_round(turn, "", &[], Usage::default(), Some(&err.to_string()))
                }
            }
        }
        // An early reply that spoke nothing yet (tool calls only, or an error) waits here; its
        // round is in the capture either way.
        let confirmed = tokio::select! {
            _ = cancel.cancelled() => return,
            confirmed = outbox.confirmed() => confirmed,
        };
        if !confirmed {
            return;
        }
        let (spoken_this_round, tool_calls, round_usage) = match round_result {
            Ok(result) => result,
            Err(err) if !offline_answers && !first_token_seen && offline.is_some() => {
                // Nothing of this turn was said: the offline agent answers it, and the rest of
                // the call (it has the same request, with any tool results so far).
                metrics::counter!("voice_provider_errors_total", "provider" => current.name(), "kind" => "llm").increment(1);
                metrics::counter!("voice_offline_agent_takeovers_total").increment(1);
                warn!(turn, round, error = %err, "the language model failed; the offline agent answers");
                llm_down.store(true, Ordering::Release);
                offline_answers = true;
                continue;
            }
            Err(err) => {
                metrics::counter!("voice_provider_errors_total", "provider" => current.name(), "kind" => "llm").increment(1);
                if spoke {
                    warn!(turn, round, error = %err, "llm failed mid-reply; keeping what was said");
                    outbox.send(done(turn, usage, offline_answers)).await;
                } else {
                    warn!(turn, round, error = %err, "llm failed before replying");
                    outbox
                        .send(TurnEvent::Failed {
                            turn,
                            error: err.to_string(),
                            usage,
                        })
                        .await;
                }
                return;
            }
        };
        add_usage(&mut usage, round_usage);
        spoke |= spoken_this_round.is_some();
        if tool_calls.is_empty() {
            outbox.send(done(turn, usage, offline_answers)).await;
            return;
        }
        // Tools run to completion even if the caller barges in meanwhile: a booking must not be
        // half-known. Their results still go into history.
        let assistant = ChatMessage::Assistant {
            content: spoken_this_round,
            tool_calls: tool_calls.clone(),
        };
        let mut results = Vec::with_capacity(tool_calls.len());
        let mut outcomes = Vec::with_capacity(tool_calls.len());
        let mut hand_off = None;
        for (index, call) in tool_calls.iter().enumerate() {
            let started = Instant::now();
            if call.name == HAND_OFF_TOOL {
                // The pipeline's own tool: nothing reaches the CRM; the driver hands over.
                let reason = hand_off_reason(&call.arguments);
                info!(
                    turn,
                    reason = reason.as_str(),
                    "the model hands the caller to a person"
                );
                hand_off.get_or_insert(reason);
                results.push(ChatMessage::Tool {
                    tool_call_id: call.id.clone(),
                    content: serde_json::json!({"ok": true, "handed_to_person": true}).to_string(),
                });
                continue;
            }
            let is_booking = call.name == "book_appointment";
            let refusal = if index >= config.max_tool_calls_per_round {
                Some((
                    "too_many_tool_calls",
                    "too many tool calls at once; call one tool at a time",
                ))
            } else if is_booking
                // Reserve the booking before it runs (two turns' tools can overlap after a
                // barge-in); given back below if the booking fails.
                && bookings
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |made| {
                        (made < config.max_bookings_per_call).then_some(made + 1)
                    })
                    .is_err()
            {
                Some((
                    "booking_limit",
                    "this call already booked the most appointments one call may book; offer \
                     to have the service advisor call back for more",
                ))
            } else {
                None
            };
            let reply = match refusal {
                Some((code, message)) => {
                    warn!(
                        turn,
                        tool = tool_label(&known_tools, &call.name),
                        code,
                        "tool call refused by a limit"
                    );
                    ToolReply::refused(code, message)
                }
                None => {
                    crm.execute_tool(&call.name, &call.arguments, &tool_context)
                        .await
                }
            };
            if let Some(capture) = &capture {
                capture.tool(turn, &call.name, &call.arguments, &reply.result);
            }
            let ok = reply.succeeded();
            if !ok && is_booking && refusal.is_none() {
                bookings.fetch_sub(1, Ordering::AcqRel);
            }
            let label = tool_label(&known_tools, &call.name);
            info!(
                turn,
                tool = label,
                ok,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "tool call"
            );
            metrics::counter!("voice_tool_calls_total", "tool" => label.to_owned(), "ok" => ok.to_string()).increment(1);
            results.push(ChatMessage::Tool {
                tool_call_id: call.id.clone(),
                content: reply.result.to_string(),
            });
            outcomes.push((call.name.clone(), reply.outcome));
        }
        request.messages.push(assistant.clone());
        request.messages.extend(results.iter().cloned());
        if outbox
            .tx
            .send(TurnEvent::ToolExchange {
                assistant,
                results,
                outcomes,
            })
            .await
            .is_err()
            || cancel.is_cancelled()
        {
            return;
        }
        if let Some(reason) = hand_off {
            // The hand-over speaks for this turn: no further round.
            outbox.send(TurnEvent::HandOff { reason }).await;
            outbox.send(done(turn, usage, offline_answers)).await;
            return;
        }
        round += 1;
    }
    warn!(
        turn,
        rounds = config.max_tool_rounds,
        "llm kept calling tools; ending the turn"
    );
    let event = if spoke {
        done(turn, usage, offline_answers)
    } else {
        TurnEvent::Failed {
            turn,
            error: "too many tool rounds".to_owned(),
            usage,
        }
    };
    outbox.send(event).await;
}

/// One LLM request: streams pieces to the driver; returns the text spoken (if any), tool calls and usage.
/// With a `budget`, a model that has not answered at all (no event) within it is given up.
async fn stream_round(
    turn: u64,
    request: &ChatRequest,
    llm: &dyn LanguageModel,
    outbox: &mut Outbox,
    first_token_seen: &mut bool,
    budget: Option<Duration>,
) -> Result<(Option<String>, Vec<ToolCall>, Usage), ProviderError> {
    let sent_at = Instant::now();
    outbox
        .send(TurnEvent::RequestSent { turn, at: sent_at })
        .await;
    let opened = async {
        let mut stream = llm.stream(request.clone()).await?;
        let first = stream.next().await;
        Ok::<_, ProviderError>((stream, first))
    };
    let (mut stream, mut next) = match budget {
        Some(budget) => tokio::time::timeout(budget, opened).await.map_err(|_| {
            ProviderError::Timeout(format!(
                "{} answered nothing within {} ms",
                llm.name(),
                budget.as_millis()
            ))
        })??,
        None => opened.await?,
    };
    let mut splitter = SentenceSplitter::new();
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    let mut usage = Usage::default();
    while let Some(event) = next.take() {
        match event? {
            LlmEvent::TextDelta { text: delta, at } => {
                if !*first_token_seen {
                    *first_token_seen = true;
                    outbox.send(TurnEvent::FirstToken { turn, at }).await;
                }
                text.push_str(&delta);
                for piece in splitter.push(&delta) {
                    outbox.send(TurnEvent::Piece { turn, text: piece }).await;
                }
            }
            LlmEvent::ToolCall { call, .. } => {
                debug!(turn, tool = call.name, "llm called a tool");
                tool_calls.push(call);
            }
            LlmEvent::Usage { usage: u, .. } => usage = u,
            LlmEvent::Finished { reason, .. } => debug!(turn, ?reason, "llm finished"),
        }
        next = stream.next().await;
    }
    if let Some(piece) = splitter.finish() {
        outbox.send(TurnEvent::Piece { turn, text: piece }).await;
    }
    let text = text.trim().to_owned();
    Ok(((!text.is_empty()).then_some(text), tool_calls, usage))
}

/// The metric and log label of a tool name: a known tool's name, else `unknown` (the model's
/// text must not create label values).
/// The tool the model calls to hand the caller to a person: the pipeline's own, next to the
/// CRM's. The rules catch the requests, threats and anger they were written for; the model,
/// which reads the whole conversation, catches the ones said in ways no rule foresaw.
pub(crate) const HAND_OFF_TOOL: &str = "hand_to_person";

/// `HAND_OFF_TOOL`'s description for the model.
pub(crate) fn hand_off_spec() -> providers::ToolSpec {
    providers::ToolSpec {
        name: HAND_OFF_TOOL.to_owned(),
        description: "Hand the caller to a person at the shop (a transfer, or a message for a \
                      call back when nobody can take it). Call it when the caller asks for a \
                      person, a manager or the owner in any words, threatens legal action or a \
                      complaint to an authority, or is angry and the conversation is not helping. \
                      Say nothing else in this turn."
            .to_owned(),
        parameters: serde_json::json!({
            "type": "object",
            "properties": {
                "reason": {
                    "type": "string",
                    "enum": ["manager_request", "legal_threat", "anger"],
                    "description": "Why: the caller asked for a person, threatened legal action, or is angry."
                }
            },
            "required": ["reason"]
        }),
    }
}

/// The reason in a `HAND_OFF_TOOL` call's arguments; a person asked for when it is missing or
/// not one of the three.
fn hand_off_reason(arguments: &str) -> EscalationReason {
    let reason = serde_json::from_str::<serde_json::Value>(arguments)
        .ok()
        .and_then(|value| value.get("reason").cloned())
        .and_then(|reason| serde_json::from_value::<EscalationReason>(reason).ok());
    match reason {
        Some(reason @ (EscalationReason::LegalThreat | EscalationReason::Anger)) => reason,
        _ => EscalationReason::ManagerRequest,
    }
}

fn tool_label<'a>(known: &'a [String], name: &str) -> &'a str {
    known
        .iter()
        .find(|known| known.as_str() == name)
        .map_or("unknown", String::as_str)
}

/// The reply is complete.
fn done(turn: u64, usage: Usage, offline: bool) -> TurnEvent {
    TurnEvent::Done {
        turn,
        usage,
        offline,
    }
}

fn add_usage(total: &mut Usage, more: Usage) {
    total.prompt_tokens += more.prompt_tokens;
    total.completion_tokens += more.completion_tokens;
    total.total_tokens += more.total_tokens;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_off_reason_is_read_and_anything_else_is_a_request_for_a_person() {
        for (arguments, reason) in [
            (
                r#"{"reason": "legal_threat"}"#,
                EscalationReason::LegalThreat,
            ),
            (r#"{"reason": "anger"}"#, EscalationReason::Anger),
            (
                r#"{"reason": "manager_request"}"#,
                EscalationReason::ManagerRequest,
            ),
            // Only the three the tool offers: the model cannot claim a lost recognizer.
            (
                r#"{"reason": "speech_recognition_lost"}"#,
                EscalationReason::ManagerRequest,
            ),
            (r#"{"reason": 7}"#, EscalationReason::ManagerRequest),
            ("{}", EscalationReason::ManagerRequest),
            ("not json", EscalationReason::ManagerRequest),
        ] {
            assert_eq!(hand_off_reason(arguments), reason, "{arguments}");
        }
        assert_eq!(hand_off_spec().name, HAND_OFF_TOOL);
    }
}
