//! Turns the `data:` payloads of one completion into `LlmEvent`s (docs/protocols.md 8.2-8.4).
//! Pure: no IO, so the awkward fragment cases are tested here without a server.

use std::collections::VecDeque;
use std::time::Instant;

use providers::{FinishReason, LlmEvent, ProviderError, ToolCall, Usage};

use crate::wire::{Chunk, ToolCallFragment, WireError};

/// Decodes one completion's payloads in order.
#[derive(Debug, Default)]
pub(crate) struct ChunkDecoder {
    /// Tool calls being assembled, in the order they started.
    calls: Vec<PartialCall>,
    /// A `finish_reason` arrived: the reply is complete even if `[DONE]` never comes.
    finished: bool,
    /// The server has started answering (text, a tool-call fragment, a finish reason or usage).
    started: bool,
    /// How many tool calls were emitted, for synthesizing missing ids.
    n_calls_emitted: usize,
}

/// What the caller does after a payload.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// Keep reading.
    More,
    /// `[DONE]`: the stream is over; close it.
    Done,
}

#[derive(Debug, Default)]
struct PartialCall {
    index: u32,
    id: String,
    name: String,
    arguments: String,
}

impl ChunkDecoder {
    /// Decodes one `data` payload, appending any events to `out`. `Err` ends the stream: a
    /// mid-stream `error` payload (`ProviderError::Vendor`) or a payload that is not a chunk
    /// (`ProviderError::Protocol`).
    pub(crate) fn decode(
        &mut self,
        data: &str,
        at: Instant,
        out: &mut VecDeque<LlmEvent>,
    ) -> Result<Decoded, ProviderError> {
        if data.starts_with("[DONE]") {
            self.flush_calls(at, out);
            return Ok(Decoded::Done);
        }
        let chunk: Chunk = serde_json::from_str(data)
            .map_err(|e| ProviderError::Protocol(format!("malformed chunk: {e}")))?;
        if let Some(error) = chunk.error.filter(|e| !e.is_null()) {
            return Err(ProviderError::Vendor(
                WireError::from_value(error).describe(),
            ));
        }
        // Only the first choice is used (n = 1); Azure's filter chunks have none.
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(delta) = choice.delta {
                // A refusal is the model's answer too; the caller should hear it.
                for text in [delta.content, delta.refusal].into_iter().flatten() {
                    if !text.is_empty() {
                        self.started = true;
                        out.push_back(LlmEvent::TextDelta { text, at });
                    }
                }
                for fragment in delta.tool_calls.unwrap_or_default() {
                    self.started = true;
                    self.add_fragment(fragment);
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.started = true;
                self.finished = true;
                self.flush_calls(at, out);
                out.push_back(LlmEvent::Finished {
                    reason: finish_reason(&reason),
                    at,
                });
            }
        }
        if let Some(usage) = chunk.usage.or(chunk.x_groq.and_then(|x| x.usage)) {
            self.started = true;
            out.push_back(LlmEvent::Usage {
                usage: Usage {
                    prompt_tokens: usage.prompt_tokens,
                    completion_tokens: usage.completion_tokens,
                    total_tokens: usage.total_tokens,
                },
                at,
            });
        }
        Ok(Decoded::More)
    }

    /// Whether the server has started answering (the retry window is over).
    pub(crate) fn has_started(&self) -> bool {
        self.started
    }

    /// Whether a `finish_reason` arrived.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// Emits the tool calls assembled so far (at `finish_reason` or `[DONE]`).
    pub(crate) fn flush_calls(&mut self, at: Instant, out: &mut VecDeque<LlmEvent>) {
        for call in self.calls.drain(..) {
            self.n_calls_emitted += 1;
            let id = if call.id.is_empty() {
                format!("call_{}", self.n_calls_emitted)
            } else {
                call.id
            };
            // 8.4: an empty arguments string means no arguments.
            let arguments = if call.arguments.trim().is_empty() {
                "{}".to_owned()
            } else {
                call.arguments
            };
            out.push_back(LlmEvent::ToolCall {
                call: ToolCall {
                    id,
                    name: call.name,
                    arguments,
                },
                at,
            });
        }
    }

    /// 8.4's robust assembly: slots keyed by `index`; a different non-empty id on a used index
    /// starts a new slot; id and name are set once, arguments are appended.
    fn add_fragment(&mut self, fragment: ToolCallFragment) {
        let id = fragment.id.unwrap_or_default();
        let (name, arguments) = match fragment.function {
            Some(function) => (
                function.name.unwrap_or_default(),
                function.arguments.unwrap_or_default(),
            ),
            None => (String::new(), String::new()),
        };
        let slot_idx = self.calls.iter().rposition(|c| c.index == fragment.index);
        let slot_idx = match slot_idx {
            Some(slot_idx)
                if id.is_empty()
                    || self.calls[slot_idx].id.is_empty()
                    || self.calls[slot_idx].id == id =>
            {
                slot_idx
            }
            _ => {
                self.calls.push(PartialCall {
                    index: fragment.index,
                    ..PartialCall::default()
                });
                self.calls.len() - 1
            }
        };
        let slot = &mut self.calls[slot_idx];
        if slot.id.is_empty() {
            slot.id = id;
        }
        if slot.name.is_empty() {
            slot.name = name;
        }
        slot.arguments.push_str(&arguments);
    }
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        // `function_call` is the deprecated spelling of the same thing.
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

#[cfg(test)]
mod tests;
