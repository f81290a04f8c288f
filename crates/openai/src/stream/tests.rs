use std::fmt::Write as _;

use expect_test::{Expect, expect};

use super::*;

/// Feeds each line of `payloads` as one `data:` payload and logs what comes out, until `[DONE]` or
/// an error; `(end)` then says whether the decoder saw a finish reason.
#[track_caller]
fn check(payloads: &str, expect: Expect) {
    let at = Instant::now();
    let mut decoder = ChunkDecoder::default();
    let mut out = VecDeque::new();
    let mut log = String::new();
    for payload in payloads.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let res = decoder.decode(payload, at, &mut out);
        for event in out.drain(..) {
            let line = match event {
                LlmEvent::TextDelta { text, .. } => format!("text {text:?}"),
                LlmEvent::ToolCall { call, .. } => {
                    format!(
                        "tool_call id={} name={} arguments={}",
                        call.id, call.name, call.arguments
                    )
                }
                LlmEvent::Usage { usage, .. } => format!("usage {usage:?}"),
                LlmEvent::Finished { reason, .. } => format!("finished {reason:?}"),
            };
            writeln!(log, "{line}").unwrap();
        }
        match res {
            Ok(Decoded::More) => {}
            Ok(Decoded::Done) => {
                writeln!(log, "done").unwrap();
                break;
            }
            Err(error) => {
                writeln!(log, "error {error:?}").unwrap();
                break;
            }
        }
    }
    writeln!(
        log,
        "(end) started={} finished={}",
        decoder.has_started(),
        decoder.is_finished()
    )
    .unwrap();
    expect.assert_eq(&log);
}

#[test]
fn text_stream_with_usage_chunk() {
    check(
        r#"
        {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1720000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null}
        {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1720000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Sure"},"finish_reason":null}],"usage":null}
        {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1720000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":", tomorrow works."},"finish_reason":null}],"usage":null}
        {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1720000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}
        {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1720000000,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":24,"completion_tokens":58,"total_tokens":82,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}
        [DONE]
        "#,
        expect![[r#"
            text "Sure"
            text ", tomorrow works."
            finished Stop
            usage Usage { prompt_tokens: 24, completion_tokens: 58, total_tokens: 82 }
            done
            (end) started=true finished=true
        "#]],
    );
}

#[test]
fn role_chunk_alone_is_not_a_first_token() {
    check(
        r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        expect![[r#"
            (end) started=false finished=false
        "#]],
    );
}

#[test]
fn tool_call_split_at_awkward_places() {
    // The id and name only in the first fragment, arguments split inside a string and inside an
    // escape, a fragment with no function at all, and the finish reason on an empty delta.
    check(
        r#"
        {"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"find_slots","arguments":""}}]},"finish_reason":null}]}
        {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"serv"}}]},"finish_reason":null}]}
        {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0}]},"finish_reason":null}]}
        {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ice\":\"oil \\"}}]},"finish_reason":null}]}
        {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"synthetic\\\" change\",\"date\":\"2025-06-03\"}"}}]},"finish_reason":null}]}
        {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}
        [DONE]
        "#,
        expect![[r#"
            tool_call id=call_abc name=find_slots arguments={"service":"oil \"synthetic\" change","date":"2025-06-03"}
            finished ToolCalls
            done
            (end) started=true finished=true
        "#]],
    );
}

#[test]
fn several_tools_interleaved_in_one_reply_with_text() {
    check(
        r#"
        {"choices":[{"index":0,"delta":{"content":"Let me check."}}]}
        {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"find_slots","arguments":"{\"date\":"}},{"index":1,"id":"call_2","type":"function","function":{"name":"lookup_customer","arguments":""}}]}}]}
        {"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"phone\":\"+1555"}}]}}]}
        {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"2025-06-03\"}"}},{"index":1,"function":{"arguments":"0001\"}"}}]}}]}
        {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}
        [DONE]
        "#,
        expect![[r#"
            text "Let me check."
            tool_call id=call_1 name=find_slots arguments={"date":"2025-06-03"}
            tool_call id=call_2 name=lookup_customer arguments={"phone":"+15550001"}
            finished ToolCalls
            done
            (end) started=true finished=true
        "#]],
    );
}

#[test]
fn servers_that_reuse_index_zero_or_repeat_the_id() {
    // Ollama-style: parallel calls all at index 0 with distinct ids; sglang-style: the id repeated
    // in every fragment and `""` sent later; Groq relays `"tool_calls": []`.
    check(
        r#"
        {"choices":[{"index":0,"delta":{"tool_calls":[]}}]}
        {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"find_slots","arguments":"{\"date\":"}}]}}]}
        {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","function":{"name":"find_slots","arguments":"\"today\"}"}}]}}]}
        {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_b","function":{"name":"transfer_call","arguments":""}}]}}]}
        {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"","function":{"name":"","arguments":"{\"reason\":\"asked\"}"}}]}}]}
        {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}
        [DONE]
        "#,
        expect![[r#"
            tool_call id=call_a name=find_slots arguments={"date":"today"}
            tool_call id=call_b name=transfer_call arguments={"reason":"asked"}
            finished ToolCalls
            done
            (end) started=true finished=true
        "#]],
    );
}

#[test]
fn missing_ids_and_arguments_are_filled_in_and_done_flushes() {
    // An old vLLM sent no id; empty arguments mean `{}`; `[DONE]` without a finish reason still
    // emits the calls.
    check(
        r#"
        {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"end_call"}}]}}]}
        [DONE]
        "#,
        expect![[r#"
            tool_call id=call_1 name=end_call arguments={}
            done
            (end) started=true finished=false
        "#]],
    );
}

#[test]
fn mid_stream_error_payload_is_a_vendor_error() {
    check(
        r#"
        {"choices":[{"index":0,"delta":{"content":"Sure"}}]}
        {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}
        {"choices":[{"index":0,"delta":{"content":"never"}}]}
        "#,
        expect![[r#"
            text "Sure"
            error Vendor("The server had an error while processing your request. (server_error)")
            (end) started=true finished=false
        "#]],
    );
}

#[test]
fn bare_string_error_and_null_error() {
    check(
        r#"
        {"choices":[{"index":0,"delta":{"content":"a"}}],"error":null}
        {"error":"model overloaded"}
        "#,
        expect![[r#"
            text "a"
            error Vendor("model overloaded")
            (end) started=true finished=false
        "#]],
    );
}

#[test]
fn malformed_json_is_a_protocol_error() {
    check(
        r#"
        {"choices":[{"index":0,"delta":{"content":"Sure"}}]}
        {"choices":[{"index":0,"delta":{"content":"trunc
        "#,
        expect![[r#"
            text "Sure"
            error Protocol("malformed chunk: EOF while parsing a string at line 1 column 48")
            (end) started=true finished=false
        "#]],
    );
}

#[test]
fn unknown_fields_azure_filter_chunks_and_other_choices_are_ignored() {
    check(
        r#"
        {"id":"","object":"","created":0,"model":"","choices":[],"prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]}
        {"choices":[{"index":0,"delta":{"content":"Hi","future_field":{"x":1}},"logprobs":null,"content_filter_results":{}}],"obfuscation":"a1b2","system_fingerprint":"fp_1","service_tier":"default"}
        {"choices":[{"index":1,"delta":{"content":"second choice"}}]}
        {"choices":[{"index":0,"delta":{"refusal":"I can't help with that."}}]}
        {"choices":[{"index":0,"delta":{},"finish_reason":"content_filter"}]}
        {"choices":[],"x_groq":{"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}}
        [DONE]
        "#,
        expect![[r#"
            text "Hi"
            text "I can't help with that."
            finished ContentFilter
            usage Usage { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 }
            done
            (end) started=true finished=true
        "#]],
    );
}

#[test]
fn other_finish_reasons() {
    check(
        r#"
        {"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"length"}]}
        {"choices":[{"index":0,"delta":{},"finish_reason":"function_call"}]}
        {"choices":[{"index":0,"delta":{},"finish_reason":"eos"}]}
        [DONE]
        "#,
        expect![[r#"
            text "a"
            finished Length
            finished ToolCalls
            finished Other("eos")
            done
            (end) started=true finished=true
        "#]],
    );
}
