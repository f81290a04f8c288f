//! `FakeLlm`: a scripted `LanguageModel`.
//!
//! # Script format
//!
//! The fake holds a queue of `LlmReply`s; each call to `stream` records its `ChatRequest` and
//! takes the next reply from the front of the queue:
//!
//! - `LlmReply::Fail(error)`: `stream` itself returns `Err(error)`, like a server that answers
//!   429 or 500 before the first token.
//! - `LlmReply::Stream(steps)`: `stream` returns a stream that plays the `LlmStep`s in order:
//!
//! | step | effect |
//! | --- | --- |
//! | `Wait(d)` | nothing for `d` (tokio clock): time to first token, or a per-token delay |
//! | `Text(s)` | yields `LlmEvent::TextDelta` |
//! | `ToolCall(call)` | yields `LlmEvent::ToolCall` (already assembled, as the real client emits it) |
//! | `Usage(u)` | yields `LlmEvent::Usage` |
//! | `Finish(reason)` | yields `LlmEvent::Finished` |
//! | `Error(e)` | yields `Err(e)` and ends the stream (a mid-stream error, or a cut connection) |
//! | `Hang` | yields nothing, forever (a server gone silent); the test drops the stream or times out |
//!
//! The stream ends after the last step. `LlmReply::text` and `LlmReply::tool_calls` build the
//! usual shapes. An empty queue makes `stream` fail with `ProviderError::Vendor`, so an unexpected
//! extra request shows up as an error rather than as silence.
//!
//! ```text
//! llm.push_reply(LlmReply::text("Sure, what time works?", Duration::from_millis(20)));
//! llm.push_reply(LlmReply::Fail(ProviderError::RateLimited { retry_after: None }));
//! ```
//!
//! Recorded: every request (`requests`), and how many streams were dropped before they ended
//! (`n_cancelled`), which is how barge-in tests see the request being cancelled.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;

use super::now;
use crate::{
    ChatRequest, FinishReason, LanguageModel, LlmEvent, LlmStream, ProviderError, ToolCall, Usage,
};

/// A scripted language model. Clones share the queue and the recordings.
#[derive(Debug, Clone, Default)]
pub struct FakeLlm {
    state: Arc<Mutex<LlmRecord>>,
}

/// How the fake answers one request (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum LlmReply {
    /// `stream` fails before any event.
    Fail(ProviderError),
    /// `stream` succeeds and plays these steps.
    Stream(Vec<LlmStep>),
}

/// One step of a streamed reply.
#[derive(Debug, Clone, PartialEq)]
pub enum LlmStep {
    /// Yield nothing for this long.
    Wait(Duration),
    /// A piece of reply text.
    Text(String),
    /// A complete tool call.
    ToolCall(ToolCall),
    /// Token usage.
    Usage(Usage),
    /// The model finished.
    Finish(FinishReason),
    /// A mid-stream error; the stream ends after it.
    Error(ProviderError),
    /// Yield nothing, ever.
    Hang,
}

#[derive(Debug, Default)]
struct LlmRecord {
    replies: VecDeque<LlmReply>,
    requests: Vec<ChatRequest>,
    n_cancelled: usize,
}

impl FakeLlm {
    /// A fake with an empty reply queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// A fake that answers with these replies, in order.
    pub fn with_replies(replies: impl IntoIterator<Item = LlmReply>) -> Self {
        let fake = Self::new();
        fake.lock().replies.extend(replies);
        fake
    }

    /// Queues one more reply.
    pub fn push_reply(&self, reply: LlmReply) {
        self.lock().replies.push_back(reply);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.lock().requests.clone()
    }

    /// How many streams were dropped before they ended.
    pub fn n_cancelled(&self) -> usize {
        self.lock().n_cancelled
    }

    /// How many replies are still queued.
    pub fn n_replies_left(&self) -> usize {
        self.lock().replies.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LlmRecord> {
        // A test that panicked while holding the lock already failed; keep reporting what we have.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl LanguageModel for FakeLlm {
    async fn stream(&self, request: ChatRequest) -> Result<LlmStream, ProviderError> {
        let reply = {
            let mut state = self.lock();
            state.requests.push(request);
            state.replies.pop_front()
        };
        match reply {
            None => Err(ProviderError::Vendor(
                "fake llm has no scripted reply left".into(),
            )),
            Some(LlmReply::Fail(error)) => Err(error),
            Some(LlmReply::Stream(steps)) => {
                let playback = Playback {
                    steps: steps.into(),
                    finished: false,
                    state: Arc::clone(&self.state),
                };
                Ok(futures::stream::unfold(playback, next_event).boxed())
            }
        }
    }

    fn name(&self) -> &'static str {
        "fake"
    }
}

impl LlmReply {
    /// A plain text reply: one `Text` per word (with its trailing space), `token_delay` before
    /// each, then `Finish(Stop)` and a `Usage` counting one token per word.
    pub fn text(reply: &str, token_delay: Duration) -> Self {
        let mut steps = Vec::new();
        let mut n_tokens = 0;
        for word in reply.split_inclusive(' ') {
            if !token_delay.is_zero() {
                steps.push(LlmStep::Wait(token_delay));
            }
            steps.push(LlmStep::Text(word.to_owned()));
            n_tokens += 1;
        }
        steps.push(LlmStep::Finish(FinishReason::Stop));
        steps.push(LlmStep::Usage(Usage {
            prompt_tokens: 0,
            completion_tokens: n_tokens,
            total_tokens: n_tokens,
        }));
        Self::Stream(steps)
    }

    /// A reply that calls tools: one `ToolCall` per call, then `Finish(ToolCalls)`.
    pub fn tool_calls(calls: impl IntoIterator<Item = ToolCall>) -> Self {
        let mut steps: Vec<LlmStep> = calls.into_iter().map(LlmStep::ToolCall).collect();
        steps.push(LlmStep::Finish(FinishReason::ToolCalls));
        Self::Stream(steps)
    }
}

/// The state of one playing stream.
struct Playback {
    steps: VecDeque<LlmStep>,
    /// The stream ended by itself; dropping it now is not a cancellation.
    finished: bool,
    state: Arc<Mutex<LlmRecord>>,
}

impl Drop for Playback {
    fn drop(&mut self) {
        if !self.finished {
            self.state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .n_cancelled += 1;
        }
    }
}

async fn next_event(mut playback: Playback) -> Option<(Result<LlmEvent, ProviderError>, Playback)> {
    loop {
        let Some(step) = playback.steps.pop_front() else {
            playback.finished = true;
            return None;
        };
        let item = match step {
            LlmStep::Wait(delay) => {
                tokio::time::sleep(delay).await;
                continue;
            }
            LlmStep::Hang => std::future::pending().await,
            LlmStep::Text(text) => Ok(LlmEvent::TextDelta { text, at: now() }),
            LlmStep::ToolCall(call) => Ok(LlmEvent::ToolCall { call, at: now() }),
            LlmStep::Usage(usage) => Ok(LlmEvent::Usage { usage, at: now() }),
            LlmStep::Finish(reason) => Ok(LlmEvent::Finished { reason, at: now() }),
            LlmStep::Error(error) => {
                // Nothing follows an error, like a real stream.
                playback.steps.clear();
                Err(error)
            }
        };
        // Once the last item is out, dropping the stream is not a cancellation.
        playback.finished = playback.steps.is_empty();
        return Some((item, playback));
    }
}
