//! The same scenarios against `OpenAiClient` (over a local server) and `providers::fake::FakeLlm`:
//! the fake the pipeline's tests use must behave like the real client.

use providers::fake::{FakeLlm, LlmReply, LlmStep};
use providers::{FinishReason, ProviderError, ToolCall, Usage};

use crate::client::{client, run, simple_request};
use crate::server::{Reply, TestServer, ending, error_reply, events, sse, text_chunk};

const USAGE: Usage = Usage {
    prompt_tokens: 24,
    completion_tokens: 58,
    total_tokens: 82,
};

/// Runs one request against the server answering `replies` and against a fake answering `fake`,
/// and checks both logs are the same.
async fn check(replies: Vec<Reply>, fake: LlmReply) {
    let server = TestServer::start(replies).await;
    let real_log = run(&client(&server), simple_request()).await;
    let fake_log = run(&FakeLlm::with_replies([fake]), simple_request()).await;
    assert_eq!(real_log, fake_log);
}

fn stream_of(chunks: &[String]) -> Reply {
    sse(events(
        &chunks.iter().map(String::as_str).collect::<Vec<_>>(),
    ))
}

#[tokio::test]
async fn text_reply() {
    let mut chunks: Vec<String> = ["Sure, ", "what ", "time ", "works?"]
        .iter()
        .map(|t| text_chunk(t))
        .collect();
    chunks.extend(ending("stop"));
    let mut steps: Vec<LlmStep> = ["Sure, ", "what ", "time ", "works?"]
        .iter()
        .map(|t| LlmStep::Text((*t).into()))
        .collect();
    steps.extend([LlmStep::Finish(FinishReason::Stop), LlmStep::Usage(USAGE)]);
    check(vec![stream_of(&chunks)], LlmReply::Stream(steps)).await;
}

#[tokio::test]
async fn tool_call_reply() {
    let mut chunks = vec![
        r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"find_slots","arguments":""}}]}}]}"#.to_owned(),
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"service\":\"oil change\"}"}}]}}]}"#.to_owned(),
    ];
    chunks.extend(ending("tool_calls"));
    let call = ToolCall {
        id: "call_abc".into(),
        name: "find_slots".into(),
        arguments: r#"{"service":"oil change"}"#.into(),
    };
    let steps = vec![
        LlmStep::ToolCall(call),
        LlmStep::Finish(FinishReason::ToolCalls),
        LlmStep::Usage(USAGE),
    ];
    check(vec![stream_of(&chunks)], LlmReply::Stream(steps)).await;
}

#[tokio::test]
async fn mid_stream_error() {
    let chunks = vec![
        text_chunk("Sure"),
        r#"{"error":{"message":"The server had an error","type":"server_error","param":null,"code":null}}"#.to_owned(),
    ];
    let steps = vec![
        LlmStep::Text("Sure".into()),
        LlmStep::Error(ProviderError::Vendor(
            "The server had an error (server_error)".into(),
        )),
    ];
    check(vec![stream_of(&chunks)], LlmReply::Stream(steps)).await;
}

#[tokio::test]
async fn stream_cut_before_the_finish() {
    let chunks = vec![text_chunk("I can ")];
    let steps = vec![
        LlmStep::Text("I can ".into()),
        LlmStep::Error(ProviderError::Protocol(
            "stream ended before the reply finished".into(),
        )),
    ];
    check(vec![stream_of(&chunks)], LlmReply::Stream(steps)).await;
}

#[tokio::test]
async fn server_errors_before_the_first_token() {
    check(
        vec![error_reply(500, &[], "boom"), error_reply(500, &[], "boom")],
        LlmReply::Fail(ProviderError::Http {
            status: 500,
            message: "boom (server_error)".into(),
        }),
    )
    .await;
}

#[tokio::test]
async fn rate_limited_without_fallback() {
    check(
        vec![error_reply(
            429,
            &[("retry-after", "20")],
            "Rate limit reached",
        )],
        LlmReply::Fail(ProviderError::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(20)),
        }),
    )
    .await;
}
