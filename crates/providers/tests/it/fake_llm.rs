//! `FakeLlm` through the `LanguageModel` trait, in the scenarios the OpenAI client is tested with.

use std::fmt::Write as _;
use std::time::Duration;

use expect_test::{Expect, expect};
use futures::StreamExt;
use providers::fake::{FakeLlm, LlmReply, LlmStep};
use providers::{
    ChatMessage, ChatRequest, FinishReason, LanguageModel, LlmEvent, ProviderError, ToolCall, Usage,
};
use tokio::time::Instant;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn request(text: &str) -> ChatRequest {
    ChatRequest {
        messages: vec![ChatMessage::User {
            content: text.into(),
        }],
        ..ChatRequest::default()
    }
}

/// Streams one request against a fake answering `reply` and logs each item with its time.
#[track_caller]
fn check(reply: LlmReply, expect: Expect) {
    let log = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(async {
            let llm = FakeLlm::with_replies([reply]);
            let started = Instant::now();
            let mut log = String::new();
            match llm.stream(request("hi")).await {
                Err(error) => writeln!(log, "stream failed: {error}").unwrap(),
                Ok(mut stream) => {
                    while let Some(item) = stream.next().await {
                        let elapsed = started.elapsed().as_millis();
                        let line = match item {
                            Ok(LlmEvent::TextDelta { text, .. }) => format!("text {text:?}"),
                            Ok(LlmEvent::ToolCall { call, .. }) => format!("tool_call {call:?}"),
                            Ok(LlmEvent::Usage { usage, .. }) => format!("usage {usage:?}"),
                            Ok(LlmEvent::Finished { reason, .. }) => format!("finished {reason:?}"),
                            Err(error) => format!("error {error:?}"),
                        };
                        writeln!(log, "{elapsed:>4} ms {line}").unwrap();
                    }
                    writeln!(log, "end").unwrap();
                }
            }
            writeln!(log, "cancelled: {}", llm.n_cancelled()).unwrap();
            log
        });
    expect.assert_eq(&log);
}

#[test]
fn normal_text_stream_with_token_delay_and_usage() {
    check(
        LlmReply::text("Sure, what time works?", ms(25)),
        expect![[r#"
              25 ms text "Sure, "
              50 ms text "what "
              75 ms text "time "
             100 ms text "works?"
             100 ms finished Stop
             100 ms usage Usage { prompt_tokens: 0, completion_tokens: 4, total_tokens: 4 }
            end
            cancelled: 0
        "#]],
    );
}

#[test]
fn tool_calls_then_finish_reason() {
    check(
        LlmReply::tool_calls([
            ToolCall {
                id: "call_1".into(),
                name: "find_slots".into(),
                arguments: r#"{"service":"oil change","date":"2025-06-03"}"#.into(),
            },
            ToolCall {
                id: "call_2".into(),
                name: "lookup_customer".into(),
                arguments: "{}".into(),
            },
        ]),
        expect![[r#"
               0 ms tool_call ToolCall { id: "call_1", name: "find_slots", arguments: "{\"service\":\"oil change\",\"date\":\"2025-06-03\"}" }
               0 ms tool_call ToolCall { id: "call_2", name: "lookup_customer", arguments: "{}" }
               0 ms finished ToolCalls
            end
            cancelled: 0
        "#]],
    );
}

#[test]
fn text_and_tool_call_in_one_reply_with_usage() {
    check(
        LlmReply::Stream(vec![
            LlmStep::Wait(ms(300)),
            LlmStep::Text("Let me check. ".into()),
            LlmStep::ToolCall(ToolCall {
                id: "call_9".into(),
                name: "find_slots".into(),
                arguments: String::new(),
            }),
            LlmStep::Finish(FinishReason::ToolCalls),
            LlmStep::Usage(Usage {
                prompt_tokens: 24,
                completion_tokens: 58,
                total_tokens: 82,
            }),
        ]),
        expect![[r#"
             300 ms text "Let me check. "
             300 ms tool_call ToolCall { id: "call_9", name: "find_slots", arguments: "" }
             300 ms finished ToolCalls
             300 ms usage Usage { prompt_tokens: 24, completion_tokens: 58, total_tokens: 82 }
            end
            cancelled: 0
        "#]],
    );
}

#[test]
fn rate_limited_before_the_first_token() {
    check(
        LlmReply::Fail(ProviderError::RateLimited {
            retry_after: Some(ms(1_000)),
        }),
        expect![[r#"
            stream failed: rate limited (retry after Some(1s))
            cancelled: 0
        "#]],
    );
}

#[test]
fn server_error_before_the_first_token() {
    check(
        LlmReply::Fail(ProviderError::Http {
            status: 500,
            message: "boom".into(),
        }),
        expect![[r#"
            stream failed: http status 500: boom
            cancelled: 0
        "#]],
    );
}

#[test]
fn mid_stream_error_ends_the_stream() {
    check(
        LlmReply::Stream(vec![
            LlmStep::Text("Sure".into()),
            LlmStep::Error(ProviderError::Vendor("The server had an error".into())),
            LlmStep::Text("never".into()),
        ]),
        expect![[r#"
               0 ms text "Sure"
               0 ms error Vendor("The server had an error")
            end
            cancelled: 0
        "#]],
    );
}

#[test]
fn stream_cut_without_done() {
    check(
        LlmReply::Stream(vec![
            LlmStep::Text("Sure, ".into()),
            LlmStep::Wait(ms(40)),
            LlmStep::Error(ProviderError::Protocol("stream ended before [DONE]".into())),
        ]),
        expect![[r#"
               0 ms text "Sure, "
              40 ms error Protocol("stream ended before [DONE]")
            end
            cancelled: 0
        "#]],
    );
}

#[test]
fn empty_queue_is_an_error() {
    let llm = FakeLlm::new();
    let res = futures::executor::block_on(llm.stream(request("hi"))).err();
    assert_eq!(
        res,
        Some(ProviderError::Vendor(
            "fake llm has no scripted reply left".into()
        ))
    );
    assert_eq!(llm.requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn silent_server_hits_the_callers_timeout_and_drop_cancels() {
    let llm = FakeLlm::with_replies([LlmReply::Stream(vec![LlmStep::Hang])]);
    let mut stream = llm.stream(request("hi")).await.unwrap();
    let first = tokio::time::timeout(ms(1_500), stream.next()).await;
    assert!(first.is_err(), "a hanging reply yields nothing");
    assert_eq!(llm.n_cancelled(), 0);
    drop(stream);
    assert_eq!(llm.n_cancelled(), 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_mid_reply_counts_as_cancelled_but_finishing_does_not() {
    let llm = FakeLlm::with_replies([
        LlmReply::text("one two three", ms(10)),
        LlmReply::text("done", Duration::ZERO),
    ]);
    let mut stream = llm.stream(request("first")).await.unwrap();
    assert!(matches!(
        stream.next().await,
        Some(Ok(LlmEvent::TextDelta { .. }))
    ));
    drop(stream);
    assert_eq!(llm.n_cancelled(), 1);

    let events: Vec<_> = llm.stream(request("second")).await.unwrap().collect().await;
    assert_eq!(events.len(), 3, "text, finished, usage: {events:?}");
    assert_eq!(llm.n_cancelled(), 1);
    assert_eq!(llm.n_replies_left(), 0);

    let users: Vec<_> = llm
        .requests()
        .into_iter()
        .map(|r| match &r.messages[0] {
            ChatMessage::User { content } => content.clone(),
            other => panic!("unexpected message {other:?}"),
        })
        .collect();
    assert_eq!(users, ["first", "second"]);
}
