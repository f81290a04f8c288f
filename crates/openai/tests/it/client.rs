//! Scenarios of docs/protocols.md 8 over real sockets on 127.0.0.1 (real time, short timeouts).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use expect_test::{Expect, expect};
use futures::StreamExt;
use openai::{ApiKey, AuthStyle, Endpoint, MaxTokensField, OpenAiClient, OpenAiConfig};
use providers::{ChatMessage, ChatRequest, LanguageModel, LlmEvent, LlmStream, ToolCall, ToolSpec};

use crate::server::{Part, Reply, TestServer, ending, error_reply, events, sse, text_chunk};

/// Hang guard for anything a test waits on.
const HANG_GUARD: Duration = Duration::from_secs(10);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A config with short timeouts for tests over real sockets.
fn config(endpoints: Vec<Endpoint>) -> OpenAiConfig {
    OpenAiConfig {
        endpoints,
        connect_timeout: ms(1_000),
        request_timeout: ms(5_000),
        first_token_timeout: ms(300),
        max_retries: 1,
        backoff_base: ms(10),
        max_backoff: ms(50),
        max_retry_after: ms(1_000),
        ..OpenAiConfig::default()
    }
}

fn endpoint(server: &TestServer, path: &str, model: &str) -> Endpoint {
    Endpoint::new(server.url(path), ApiKey::new("sk-test-primary"), model)
}

pub(crate) fn client(server: &TestServer) -> OpenAiClient {
    OpenAiClient::new(config(vec![endpoint(server, "/v1", "gpt-4o-mini")])).unwrap()
}

pub(crate) fn simple_request() -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::System {
                content: "You are the receptionist of Joe's Garage.".into(),
            },
            ChatMessage::User {
                content: "Can I book an oil change tomorrow?".into(),
            },
        ],
        ..ChatRequest::default()
    }
}

/// Streams `request` and logs every item.
pub(crate) async fn run(llm: &dyn LanguageModel, request: ChatRequest) -> String {
    let mut log = String::new();
    let stream = tokio::time::timeout(HANG_GUARD, llm.stream(request))
        .await
        .unwrap();
    match stream {
        Err(error) => writeln!(log, "stream failed: {error:?}").unwrap(),
        Ok(stream) => log.push_str(&drain(stream).await),
    }
    log
}

async fn drain(mut stream: LlmStream) -> String {
    let mut log = String::new();
    while let Some(item) = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .unwrap()
    {
        let line = match item {
            Ok(LlmEvent::TextDelta { text, .. }) => format!("text {text:?}"),
            Ok(LlmEvent::ToolCall { call, .. }) => {
                format!(
                    "tool_call id={} name={} arguments={}",
                    call.id, call.name, call.arguments
                )
            }
            Ok(LlmEvent::Usage { usage, .. }) => format!("usage {usage:?}"),
            Ok(LlmEvent::Finished { reason, .. }) => format!("finished {reason:?}"),
            Err(error) => format!("error {error:?}"),
        };
        writeln!(log, "{line}").unwrap();
    }
    writeln!(log, "end").unwrap();
    log
}

/// Runs `replies` against one endpoint and logs the events, then what the server saw.
#[track_caller]
fn check(replies: Vec<Reply>, expect: Expect) {
    let log = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let server = TestServer::start(replies).await;
            let llm = client(&server);
            let mut log = run(&llm, simple_request()).await;
            let requests = server.requests();
            writeln!(log, "requests: {}", requests.len()).unwrap();
            log
        });
    expect.assert_eq(&log);
}

#[tokio::test]
async fn sends_the_documented_request_and_decodes_a_text_stream() {
    // Bytes split mid-line, mid-JSON and inside a UTF-8 character; CRLF line ends; a keep-alive
    // comment; an event with two data lines would be joined with "\n", so it is not used here.
    let first = format!("data: {}\r\n\r\n: keep-alive\r\n\r\n", text_chunk("Sure, "));
    let second = format!("data: {}\n\n", text_chunk("caf\u{e9} at nine?"));
    let (second_a, second_b) = second
        .as_bytes()
        .split_at(second.find('\u{e9}').unwrap() + 1);
    // The waits make the client read each piece separately.
    let mut body = vec![
        Part::Bytes(b": hello\n\n".to_vec()),
        Part::Bytes(first.as_bytes()[..17].to_vec()),
        Part::Wait(ms(20)),
        Part::Bytes(first.as_bytes()[17..].to_vec()),
        Part::Wait(ms(20)),
        Part::Bytes(second_a.to_vec()),
        Part::Wait(ms(20)),
        Part::Bytes(second_b.to_vec()),
    ];
    let end: Vec<String> = ending("stop");
    body.extend(events(&end.iter().map(String::as_str).collect::<Vec<_>>()));
    let server = TestServer::start([sse(body)]).await;
    let llm = client(&server);

    let request = ChatRequest {
        messages: vec![
            ChatMessage::System {
                content: "You are the receptionist of Joe's Garage.".into(),
            },
            ChatMessage::User {
                content: "Can I book an oil change tomorrow?".into(),
            },
            ChatMessage::Assistant {
                content: None,
                tool_calls: vec![ToolCall {
                    id: "call_abc".into(),
                    name: "find_slots".into(),
                    arguments: r#"{"service":"oil change","date":"2025-06-03"}"#.into(),
                }],
            },
            ChatMessage::Tool {
                tool_call_id: "call_abc".into(),
                content: r#"{"slots":["09:00","13:30"]}"#.into(),
            },
        ],
        tools: vec![ToolSpec {
            name: "find_slots".into(),
            description: "List free appointment slots for a service on a date.".into(),
            parameters: serde_json::json!({"type":"object","properties":{"service":{"type":"string"},"date":{"type":"string"}},"required":["service","date"]}),
        }],
        temperature: None,
        max_tokens: Some(120),
    };
    let log = run(&llm, request).await;
    expect![[r#"
        text "Sure, "
        text "café at nine?"
        finished Stop
        usage Usage { prompt_tokens: 24, completion_tokens: 58, total_tokens: 82 }
        end
    "#]]
    .assert_eq(&log);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let seen = &requests[0];
    assert_eq!(seen.path_and_query, "/v1/chat/completions");
    assert_eq!(seen.headers["authorization"], "Bearer sk-test-primary");
    assert_eq!(seen.headers["content-type"], "application/json");
    assert_eq!(seen.headers["accept"], "text/event-stream");
    expect![[r#"
        {
          "max_completion_tokens": 120,
          "messages": [
            {
              "content": "You are the receptionist of Joe's Garage.",
              "role": "system"
            },
            {
              "content": "Can I book an oil change tomorrow?",
              "role": "user"
            },
            {
              "content": null,
              "role": "assistant",
              "tool_calls": [
                {
                  "function": {
                    "arguments": "{\"service\":\"oil change\",\"date\":\"2025-06-03\"}",
                    "name": "find_slots"
                  },
                  "id": "call_abc",
                  "type": "function"
                }
              ]
            },
            {
              "content": "{\"slots\":[\"09:00\",\"13:30\"]}",
              "role": "tool",
              "tool_call_id": "call_abc"
            }
          ],
          "model": "gpt-4o-mini",
          "stream": true,
          "stream_options": {
            "include_usage": true
          },
          "temperature": 0.3,
          "tool_choice": "auto",
          "tools": [
            {
              "function": {
                "description": "List free appointment slots for a service on a date.",
                "name": "find_slots",
                "parameters": {
                  "properties": {
                    "date": {
                      "type": "string"
                    },
                    "service": {
                      "type": "string"
                    }
                  },
                  "required": [
                    "service",
                    "date"
                  ],
                  "type": "object"
                }
              },
              "type": "function"
            }
          ]
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(&seen.body).unwrap());
}

#[test]
fn tool_call_fragments_over_the_wire() {
    let chunks = [
        r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"find_slots","arguments":""}}]},"finish_reason":null}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"service\":\"oil"}},{"index":1,"id":"call_def","type":"function","function":{"name":"lookup_customer","arguments":"{}"}}]},"finish_reason":null}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":" change\",\"date\":\"2025-06-03\"}"}}]},"finish_reason":null}]}"#,
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":null}"#,
        r#"{"choices":[],"usage":{"prompt_tokens":80,"completion_tokens":31,"total_tokens":111}}"#,
        "[DONE]",
    ];
    check(
        vec![sse(events(&chunks))],
        expect![[r#"
        tool_call id=call_abc name=find_slots arguments={"service":"oil change","date":"2025-06-03"}
        tool_call id=call_def name=lookup_customer arguments={}
        finished ToolCalls
        usage Usage { prompt_tokens: 80, completion_tokens: 31, total_tokens: 111 }
        end
        requests: 1
    "#]],
    );
}

#[test]
fn mid_stream_error_event_is_surfaced() {
    let text = text_chunk("Sure");
    let chunks = [
        text.as_str(),
        r#"{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}"#,
    ];
    check(
        vec![sse(events(&chunks))],
        expect![[r#"
        text "Sure"
        error Vendor("The server had an error while processing your request. (server_error)")
        end
        requests: 1
    "#]],
    );
}

#[test]
fn malformed_json_chunk_is_a_protocol_error() {
    let text = text_chunk("Sure");
    check(
        vec![sse(events(&[
            text.as_str(),
            r#"{"choices":[{"index":0,"delta":{"content":"tru"#,
        ]))],
        expect![[r#"
            text "Sure"
            error Protocol("malformed chunk: EOF while parsing a string at line 1 column 46")
            end
            requests: 1
        "#]],
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let chunks = [
        r#"{"id":"","choices":[],"prompt_filter_results":[{"prompt_index":0}]}"#,
        r#"{"id":"x","brand_new":{"a":[1,2]},"choices":[{"index":0,"delta":{"content":"Hi","extra":true},"logprobs":null,"content_filter_results":{}}],"obfuscation":"q9"}"#,
        r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        "[DONE]",
    ];
    check(
        vec![sse(events(&chunks))],
        expect![[r#"
        text "Hi"
        finished Stop
        end
        requests: 1
    "#]],
    );
}

#[test]
fn stream_cut_midway_without_done() {
    let one = text_chunk("I can ");
    let two = text_chunk("book ");
    check(
        vec![sse(events(&[one.as_str(), two.as_str()]))],
        expect![[r#"
        text "I can "
        text "book "
        error Protocol("stream ended before the reply finished")
        end
        requests: 1
    "#]],
    );
}

#[test]
fn stream_ending_after_finish_reason_without_done_is_complete() {
    let one = text_chunk("Bye.");
    check(
        vec![sse(events(&[
            one.as_str(),
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        ]))],
        expect![[r#"
            text "Bye."
            finished Stop
            end
            requests: 1
        "#]],
    );
}

fn ok_reply() -> Reply {
    let text = text_chunk("Sure.");
    let mut chunks = vec![text];
    chunks.extend(ending("stop"));
    sse(events(
        &chunks.iter().map(String::as_str).collect::<Vec<_>>(),
    ))
}

#[tokio::test]
async fn rate_limited_with_retry_after_then_success() {
    let server = TestServer::start([
        error_reply(
            429,
            &[("retry-after", "0.2")],
            "Rate limit reached for requests",
        ),
        ok_reply(),
    ])
    .await;
    let llm = client(&server);
    let started = Instant::now();
    let log = run(&llm, simple_request()).await;
    let elapsed = started.elapsed();
    expect![[r#"
        text "Sure."
        finished Stop
        usage Usage { prompt_tokens: 24, completion_tokens: 58, total_tokens: 82 }
        end
    "#]]
    .assert_eq(&log);
    assert!(
        elapsed >= ms(200),
        "waited only {elapsed:?} despite retry-after: 0.2"
    );
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn server_error_then_success() {
    check(
        vec![error_reply(500, &[], "boom"), ok_reply()],
        expect![[r#"
        text "Sure."
        finished Stop
        usage Usage { prompt_tokens: 24, completion_tokens: 58, total_tokens: 82 }
        end
        requests: 2
    "#]],
    );
}

#[test]
fn unauthorized_is_not_retried() {
    check(
        vec![
            error_reply(401, &[], "Incorrect API key provided"),
            ok_reply(),
        ],
        expect![[r#"
            stream failed: Auth("Incorrect API key provided (server_error)")
            requests: 1
        "#]],
    );
}

#[test]
fn server_errors_until_retries_run_out() {
    check(
        vec![
            error_reply(500, &[], "boom"),
            error_reply(503, &[], "overloaded"),
        ],
        expect![[r#"
            stream failed: Http { status: 503, message: "overloaded (server_error)" }
            requests: 2
        "#]],
    );
}

#[tokio::test]
async fn fallback_endpoint_after_retries_are_exhausted() {
    let server = TestServer::start([
        error_reply(500, &[], "boom"),
        error_reply(502, &[], "bad gateway"),
        ok_reply(),
    ])
    .await;
    let primary = endpoint(&server, "/primary/v1", "gpt-4o-mini");
    // Azure-style fallback: deployment in the path, api-version query kept, `api-key` header.
    let fallback = Endpoint {
        api_key: ApiKey::new("azure-key"),
        auth: AuthStyle::ApiKeyHeader,
        max_tokens_field: MaxTokensField::MaxTokens,
        include_usage: false,
        ..endpoint(
            &server,
            "/openai/deployments/receptionist?api-version=2024-10-21",
            "receptionist",
        )
    };
    let llm = OpenAiClient::new(config(vec![primary, fallback])).unwrap();
    let log = run(&llm, simple_request()).await;
    expect![[r#"
        text "Sure."
        finished Stop
        usage Usage { prompt_tokens: 24, completion_tokens: 58, total_tokens: 82 }
        end
    "#]]
    .assert_eq(&log);

    let requests = server.requests();
    let summary: Vec<String> = requests
        .iter()
        .map(|r| {
            format!(
                "{} model={} auth={:?} api-key={:?} max_tokens={} max_completion_tokens={} stream_options={}",
                r.path_and_query,
                r.body["model"],
                r.headers.get("authorization"),
                r.headers.get("api-key"),
                r.body["max_tokens"],
                r.body["max_completion_tokens"],
                r.body["stream_options"],
            )
        })
        .collect();
    expect![[r#"
        [
            "/primary/v1/chat/completions model=\"gpt-4o-mini\" auth=Some(\"Bearer sk-test-primary\") api-key=None max_tokens=null max_completion_tokens=300 stream_options={\"include_usage\":true}",
            "/primary/v1/chat/completions model=\"gpt-4o-mini\" auth=Some(\"Bearer sk-test-primary\") api-key=None max_tokens=null max_completion_tokens=300 stream_options={\"include_usage\":true}",
            "/openai/deployments/receptionist/chat/completions?api-version=2024-10-21 model=\"receptionist\" auth=None api-key=Some(\"azure-key\") max_tokens=300 max_completion_tokens=null stream_options=null",
        ]
    "#]].assert_debug_eq(&summary);
}

#[tokio::test]
async fn retry_after_beyond_the_cap_moves_to_the_fallback_at_once() {
    let server = TestServer::start([
        error_reply(
            429,
            &[("retry-after", "30")],
            "Rate limit reached for tokens",
        ),
        ok_reply(),
    ])
    .await;
    let llm = OpenAiClient::new(config(vec![
        endpoint(&server, "/primary/v1", "gpt-4o-mini"),
        endpoint(&server, "/fallback/v1", "llama-3.1-8b-instant"),
    ]))
    .unwrap();
    let started = Instant::now();
    let log = run(&llm, simple_request()).await;
    assert!(
        started.elapsed() < ms(1_000),
        "waited {:?}",
        started.elapsed()
    );
    expect![[r#"
        text "Sure."
        finished Stop
        usage Usage { prompt_tokens: 24, completion_tokens: 58, total_tokens: 82 }
        end
    "#]]
    .assert_eq(&log);
    let paths: Vec<String> = server
        .requests()
        .into_iter()
        .map(|r| r.path_and_query)
        .collect();
    assert_eq!(
        paths,
        [
            "/primary/v1/chat/completions",
            "/fallback/v1/chat/completions"
        ]
    );
}

#[tokio::test]
async fn connect_errors_are_retried_then_the_fallback_is_used() {
    // A port nobody listens on: bind, note the port, close.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url: url::Url = format!("http://{}/v1", dead.local_addr().unwrap())
        .parse()
        .unwrap();
    drop(dead);
    let server = TestServer::start([ok_reply()]).await;
    let llm = OpenAiClient::new(config(vec![
        Endpoint::new(dead_url, ApiKey::new("sk-dead"), "gpt-4o-mini"),
        endpoint(&server, "/v1", "gpt-4o-mini"),
    ]))
    .unwrap();
    let log = run(&llm, simple_request()).await;
    expect![[r#"
        text "Sure."
        finished Stop
        usage Usage { prompt_tokens: 24, completion_tokens: 58, total_tokens: 82 }
        end
    "#]]
    .assert_eq(&log);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn silent_server_hits_the_first_token_timeout_and_the_connection_is_closed() {
    // Headers and a keep-alive comment arrive, then nothing: not a first token.
    let silent = || sse(vec![Part::Bytes(b": ping\n\n".to_vec()), Part::Hang]);
    let mut server = TestServer::start([silent(), silent()]).await;
    let llm = client(&server);
    let started = Instant::now();
    let log = run(&llm, simple_request()).await;
    let elapsed = started.elapsed();
    expect![[r#"
        stream failed: Timeout("no first token within 300 ms")
    "#]]
    .assert_eq(&log);
    // Two attempts of 300 ms each, plus a short backoff.
    assert!(elapsed >= ms(600), "gave up after {elapsed:?}");
    assert_eq!(server.requests().len(), 2);
    for _ in 0..2 {
        tokio::time::timeout(HANG_GUARD, server.body_dropped_rx.recv())
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn dropping_the_stream_cancels_the_request() {
    let text = text_chunk("Let me");
    let mut body = events(&[text.as_str()]);
    body.push(Part::Hang);
    let mut server = TestServer::start([sse(body)]).await;
    let llm = client(&server);
    let mut stream = llm.stream(simple_request()).await.unwrap();
    let first = tokio::time::timeout(HANG_GUARD, stream.next())
        .await
        .unwrap();
    assert!(
        matches!(first, Some(Ok(LlmEvent::TextDelta { .. }))),
        "{first:?}"
    );
    drop(stream);
    // The server sees the connection go away.
    tokio::time::timeout(HANG_GUARD, server.body_dropped_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(server.requests().len(), 1);
    assert_eq!(server.n_replies_left(), 0);
}

#[tokio::test]
async fn turns_reuse_one_kept_alive_connection() {
    let server = TestServer::start([ok_reply(), ok_reply(), ok_reply()]).await;
    let llm = client(&server);
    for _ in 0..3 {
        let log = run(&llm, simple_request()).await;
        assert!(log.ends_with("finished Stop\nusage Usage { prompt_tokens: 24, completion_tokens: 58, total_tokens: 82 }\nend\n"), "{log}");
    }
    let peers: Vec<_> = server.requests().into_iter().map(|r| r.peer).collect();
    assert_eq!(peers.len(), 3);
    assert!(
        peers.iter().all(|p| *p == peers[0]),
        "new connections were opened: {peers:?}"
    );
}

#[test]
fn config_errors_and_secret_redaction() {
    assert_eq!(
        OpenAiClient::new(OpenAiConfig::default()).err(),
        Some(openai::Error::NoEndpoints)
    );
    let bad_key = Endpoint::new(
        "http://127.0.0.1:9/v1".parse().unwrap(),
        ApiKey::new("sk-bad\nkey"),
        "m",
    );
    assert_eq!(
        OpenAiClient::new(config(vec![bad_key])).err(),
        Some(openai::Error::InvalidApiKey { endpoint_idx: 0 })
    );
    let endpoint = Endpoint::new(
        openai::DEFAULT_BASE_URL.parse().unwrap(),
        ApiKey::new("sk-live-SECRET"),
        "gpt-4o-mini",
    );
    let client = OpenAiClient::new(config(vec![endpoint])).unwrap();
    let debug = format!("{client:?}");
    assert!(!debug.contains("SECRET"), "{debug}");
    assert!(debug.contains("ApiKey(***)"), "{debug}");
}

#[tokio::test]
async fn warm_up_opens_the_connection_the_first_turn_uses() {
    let warm_up_answer = Reply {
        status: 200,
        headers: vec![("content-type", "application/json".into())],
        body: vec![Part::Bytes(br#"{"object":"list","data":[]}"#.to_vec())],
    };
    let server = TestServer::start([warm_up_answer, ok_reply()]).await;
    let llm = client(&server);
    llm.warm_up().await;
    let log = run(&llm, simple_request()).await;
    assert!(log.starts_with("text \"Sure.\"\n"), "{log}");
    let requests = server.requests();
    let paths: Vec<&str> = requests.iter().map(|r| r.path_and_query.as_str()).collect();
    assert_eq!(paths, ["/v1/models", "/v1/chat/completions"]);
    assert_eq!(
        requests[0].headers["authorization"],
        "Bearer sk-test-primary"
    );
    assert_eq!(
        requests[0].peer, requests[1].peer,
        "the turn opened a new connection"
    );
}

#[test]
fn body_ending_before_any_token_is_retried() {
    check(
        vec![sse(vec![Part::Bytes(b": ping\n\n".to_vec())]), ok_reply()],
        expect![[r#"
            text "Sure."
            finished Stop
            usage Usage { prompt_tokens: 24, completion_tokens: 58, total_tokens: 82 }
            end
            requests: 2
        "#]],
    );
}

#[tokio::test]
async fn server_silent_mid_stream_hits_the_request_timeout() {
    let text = text_chunk("Let me check");
    let mut body = events(&[text.as_str()]);
    body.push(Part::Hang);
    let mut server = TestServer::start([sse(body)]).await;
    let llm = OpenAiClient::new(OpenAiConfig {
        request_timeout: ms(800),
        ..config(vec![endpoint(&server, "/v1", "gpt-4o-mini")])
    })
    .unwrap();
    let started = Instant::now();
    let log = run(&llm, simple_request()).await;
    assert!(
        started.elapsed() >= ms(800),
        "ended after {:?}",
        started.elapsed()
    );
    expect![[r#"
        text "Let me check"
        error Timeout("error decoding response body: request or response body error: operation timed out")
        end
    "#]].assert_eq(&log);
    tokio::time::timeout(HANG_GUARD, server.body_dropped_rx.recv())
        .await
        .unwrap()
        .unwrap();
}
