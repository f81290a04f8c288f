//! `CallsClient` against a local axum server that records each request and plays one reply.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use expect_test::{Expect, expect};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use twilio::rest::{
    CallInstructions, CallStatus, CallStatusEvent, CallsClient, CallsClientConfig, CreateCall,
    MachineDetection, RestError,
};
use twilio::twiml::{Dial, HttpMethod, Response as Twiml, Say};
use twilio::{AccountSid, AuthToken, CallSid};

const ACCOUNT: &str = "AC3f9b2a61c0d84e57a1b6c2d9e4f70812";
const CALL: &str = "CA8e4d2c7b1a9f60354e2d1c0b9a887766";
const TOKEN: &str = "test-auth-token";
/// Guards against a hang; the timeouts under test are far shorter.
const HANG_GUARD: Duration = Duration::from_secs(10);

#[derive(Debug)]
struct Recorded {
    method: Method,
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    form: Vec<(String, String)>,
}

#[derive(Clone)]
enum Reply {
    Json {
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        body: String,
    },
    /// Never answers, to hit the client's timeout.
    Hang,
}

struct Server {
    base_url: String,
    requests_rx: mpsc::UnboundedReceiver<Recorded>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct AppState {
    reply: Reply,
    requests_tx: mpsc::UnboundedSender<Recorded>,
}

async fn handle(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let recorded = Recorded {
        method,
        path: uri.path().to_owned(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        form: url::form_urlencoded::parse(&body).into_owned().collect(),
    };
    let _ = state.requests_tx.send(recorded);
    match &state.reply {
        Reply::Json {
            status,
            headers,
            body,
        } => {
            let mut response = (
                StatusCode::from_u16(*status).unwrap(),
                [("content-type", "application/json")],
                body.clone(),
            )
                .into_response();
            for (name, value) in headers {
                response.headers_mut().insert(*name, value.parse().unwrap());
            }
            response
        }
        Reply::Hang => std::future::pending().await,
    }
}

async fn start_server(reply: Reply) -> Server {
    let (requests_tx, requests_rx) = mpsc::unbounded_channel();
    let state = Arc::new(AppState { reply, requests_tx });
    let app = Router::new().fallback(handle).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server {
        base_url: format!("http://{addr}/2010-04-01"),
        requests_rx,
        task,
    }
}

fn config(base_url: &str) -> CallsClientConfig {
    let mut res =
        CallsClientConfig::new(AccountSid::parse(ACCOUNT).unwrap(), AuthToken::new(TOKEN));
    res.base_url = base_url.to_owned();
    res.request_timeout = Duration::from_millis(300);
    res
}

fn client(base_url: &str) -> CallsClient {
    CallsClient::new(config(base_url)).unwrap()
}

fn call_sid() -> CallSid {
    CallSid::parse(CALL).unwrap()
}

fn basic_auth(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

fn call_json(status: &str, direction: &str) -> String {
    format!(
        r#"{{"sid":"{CALL}","account_sid":"{ACCOUNT}","status":"{status}","direction":"{direction}","to":"+15552223333","from":"+15550001111","uri":"/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json"}}"#
    )
}

fn ok(status: u16, body: String) -> Reply {
    Reply::Json {
        status,
        headers: Vec::new(),
        body,
    }
}

async fn next_request(server: &mut Server) -> Recorded {
    tokio::time::timeout(HANG_GUARD, server.requests_rx.recv())
        .await
        .unwrap()
        .unwrap()
}

#[track_caller]
fn assert_form_post(request: &Recorded, path: &str, user: &str, expected_form: &[(&str, &str)]) {
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, path);
    assert_eq!(
        request.authorization.as_deref(),
        Some(basic_auth(user, TOKEN).as_str())
    );
    assert_eq!(
        request.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let form: Vec<(&str, &str)> = request
        .form
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(form, expected_form);
}

fn transfer_twiml() -> String {
    Twiml::new()
        .say(Say::new("Connecting you to a technician."))
        .dial(
            Dial::number("+15552223333")
                .caller_id("+15550001111")
                .timeout_secs(20)
                .action("https://gateway.example.com/twilio/dial-done"),
        )
        .to_xml()
}

#[tokio::test]
async fn update_call_with_twiml_posts_the_document() {
    let mut server = start_server(ok(200, call_json("in-progress", "inbound"))).await;
    let twiml = transfer_twiml();
    let call = client(&server.base_url)
        .update_call_twiml(&call_sid(), &twiml)
        .await
        .unwrap();
    assert_eq!(call.sid, call_sid());
    assert_eq!(call.status, CallStatus::InProgress);
    assert_eq!(call.direction.as_deref(), Some("inbound"));
    let request = next_request(&mut server).await;
    assert_form_post(
        &request,
        &format!("/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json"),
        ACCOUNT,
        &[("Twiml", &twiml)],
    );
}

#[tokio::test]
async fn complete_call_posts_status_completed() {
    let mut server = start_server(ok(200, call_json("completed", "inbound"))).await;
    // A trailing slash on the base URL must not change the path.
    let call = client(&format!("{}/", server.base_url))
        .complete_call(&call_sid())
        .await
        .unwrap();
    assert_eq!(call.status, CallStatus::Completed);
    let request = next_request(&mut server).await;
    assert_form_post(
        &request,
        &format!("/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}.json"),
        ACCOUNT,
        &[("Status", "completed")],
    );
}

#[tokio::test]
async fn create_call_sends_every_field_and_repeats_list_values() {
    let mut server = start_server(ok(201, call_json("queued", "outbound-api"))).await;
    let twiml = transfer_twiml();
    let mut request = CreateCall::new(
        "+15552223333",
        "+15550001111",
        CallInstructions::Twiml(twiml.clone()),
    );
    request.status_callback = Some("https://gateway.example.com/twilio/call-status".to_owned());
    request.status_callback_method = Some(HttpMethod::Post);
    request.status_callback_events = vec![
        CallStatusEvent::Initiated,
        CallStatusEvent::Ringing,
        CallStatusEvent::Answered,
        CallStatusEvent::Completed,
    ];
    request.timeout_secs = Some(25);
    request.time_limit_secs = Some(900);
    request.machine_detection = Some(MachineDetection::DetectMessageEnd);
    request.async_amd_callback = Some("https://gateway.example.com/twilio/amd".to_owned());
    let call = client(&server.base_url)
        .create_call(&request)
        .await
        .unwrap();
    assert_eq!(call.status, CallStatus::Queued);
    assert_eq!(call.direction.as_deref(), Some("outbound-api"));
    let recorded = next_request(&mut server).await;
    assert_form_post(
        &recorded,
        &format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json"),
        ACCOUNT,
        &[
            ("To", "+15552223333"),
            ("From", "+15550001111"),
            ("Twiml", &twiml),
            (
                "StatusCallback",
                "https://gateway.example.com/twilio/call-status",
            ),
            ("StatusCallbackMethod", "POST"),
            ("StatusCallbackEvent", "initiated"),
            ("StatusCallbackEvent", "ringing"),
            ("StatusCallbackEvent", "answered"),
            ("StatusCallbackEvent", "completed"),
            ("Timeout", "25"),
            ("TimeLimit", "900"),
            ("MachineDetection", "DetectMessageEnd"),
            ("AsyncAmd", "true"),
            (
                "AsyncAmdStatusCallback",
                "https://gateway.example.com/twilio/amd",
            ),
            ("AsyncAmdStatusCallbackMethod", "POST"),
        ],
    );
}

#[tokio::test]
async fn create_call_with_url_and_api_key_auth() {
    let mut server = start_server(ok(201, call_json("queued", "outbound-api"))).await;
    let mut config = config(&server.base_url);
    config.api_key_sid = Some("SK0123456789abcdef0123456789abcdef".to_owned());
    let request = CreateCall::new(
        "+15552223333",
        "+15550001111",
        CallInstructions::Url {
            url: "https://gateway.example.com/twilio/outbound".to_owned(),
            method: Some(HttpMethod::Get),
        },
    );
    CallsClient::new(config)
        .unwrap()
        .create_call(&request)
        .await
        .unwrap();
    let recorded = next_request(&mut server).await;
    // The path keeps the account SID; only the basic-auth user changes.
    assert_form_post(
        &recorded,
        &format!("/2010-04-01/Accounts/{ACCOUNT}/Calls.json"),
        "SK0123456789abcdef0123456789abcdef",
        &[
            ("To", "+15552223333"),
            ("From", "+15550001111"),
            ("Url", "https://gateway.example.com/twilio/outbound"),
            ("Method", "GET"),
        ],
    );
}

#[tokio::test]
async fn odd_call_sids_cannot_change_the_path() {
    let mut server = start_server(ok(200, call_json("completed", "inbound"))).await;
    let sid = CallSid::from_wire("CA1/../../Other?x=1#y");
    client(&server.base_url).complete_call(&sid).await.unwrap();
    let request = next_request(&mut server).await;
    assert_eq!(
        request.path,
        format!("/2010-04-01/Accounts/{ACCOUNT}/Calls/CA1%2F..%2F..%2FOther%3Fx=1%23y.json")
    );
}

/// Runs `complete_call` against `reply` and renders the error with its classification.
async fn check_error(reply: Reply, expected: Expect) {
    let server = start_server(reply).await;
    let result = tokio::time::timeout(
        HANG_GUARD,
        client(&server.base_url).complete_call(&call_sid()),
    )
    .await
    .unwrap();
    let err = result.unwrap_err();
    expected.assert_eq(&render_error(&err));
}

fn render_error(err: &RestError) -> String {
    format!(
        "{err}\nstatus={:?} code={:?} call_gone={} retryable={} retry_after={:?}\n",
        err.status(),
        err.code(),
        err.is_call_gone(),
        err.is_retryable(),
        err.retry_after(),
    )
}

fn error_reply(status: u16, body: &str) -> Reply {
    Reply::Json {
        status,
        headers: Vec::new(),
        body: body.to_owned(),
    }
}

#[tokio::test]
async fn error_call_gone_classic_20404() {
    check_error(
        error_reply(
            404,
            r#"{"code": 20404, "message": "The requested resource /2010-04-01/Accounts/AC3f9b2a61c0d84e57a1b6c2d9e4f70812/Calls/CA8e4d2c7b1a9f60354e2d1c0b9a887766.json was not found", "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}"#,
        ),
        expect![[r#"
            twilio api returned http 404 code 20404: The requested resource /2010-04-01/Accounts/AC3f9b2a61c0d84e57a1b6c2d9e4f70812/Calls/CA8e4d2c7b1a9f60354e2d1c0b9a887766.json was not found
            status=Some(404) code=Some(20404) call_gone=true retryable=false retry_after=None
        "#]],
    )
    .await;
}

#[tokio::test]
async fn error_call_not_in_progress_21220() {
    check_error(
        error_reply(
            400,
            r#"{"code": 21220, "message": "Call is not in-progress. Cannot redirect.", "more_info": "https://www.twilio.com/docs/errors/21220", "status": 400}"#,
        ),
        expect![[r#"
            twilio api returned http 400 code 21220: Call is not in-progress. Cannot redirect.
            status=Some(400) code=Some(21220) call_gone=true retryable=false retry_after=None
        "#]],
    )
    .await;
}

#[tokio::test]
async fn error_phone_numbers_in_messages_are_masked() {
    check_error(
        error_reply(
            400,
            r#"{"code": 21211, "message": "The 'To' number 5551234567 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#,
        ),
        expect![[r#"
            twilio api returned http 400 code 21211: The 'To' number ******4567 is not a valid phone number.
            status=Some(400) code=Some(21211) call_gone=false retryable=false retry_after=None
        "#]],
    )
    .await;
}

#[tokio::test]
async fn error_rfc9457_problem_details() {
    check_error(
        error_reply(
            400,
            r#"{"type": "https://www.twilio.com/docs/errors/20001", "title": "Invalid parameter", "status": 400, "code": 20001, "detail": "Status must be one of canceled, completed", "instance": "/2010-04-01/Accounts/AC1/Calls/CA1.json"}"#,
        ),
        expect![[r#"
            twilio api returned http 400 code 20001: Status must be one of canceled, completed
            status=Some(400) code=Some(20001) call_gone=false retryable=false retry_after=None
        "#]],
    )
    .await;
}

#[tokio::test]
async fn error_rate_limited_with_retry_after() {
    check_error(
        Reply::Json {
            status: 429,
            headers: vec![("retry-after", "3")],
            body: r#"{"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429}"#.to_owned(),
        },
        expect![[r#"
            twilio api returned http 429 code 20429: Too Many Requests
            status=Some(429) code=Some(20429) call_gone=false retryable=true retry_after=Some(3s)
        "#]],
    )
    .await;
}

#[tokio::test]
async fn error_server_error_with_non_json_body() {
    check_error(
        error_reply(500, "<html><body>Internal Server Error</body></html>"),
        expect![[r#"
            twilio api returned http 500: no error message in the body
            status=Some(500) code=None call_gone=false retryable=true retry_after=None
        "#]],
    )
    .await;
}

#[tokio::test]
async fn error_success_status_with_garbage_body() {
    check_error(error_reply(200, r#"{"status":"completed"}"#), expect![[r#"
        twilio api answered http 200 with an unexpected body: missing field `sid` at line 1 column 22
        status=Some(200) code=None call_gone=false retryable=false retry_after=None
    "#]]).await;
}

#[tokio::test]
async fn slow_answer_hits_the_timeout() {
    check_error(
        Reply::Hang,
        expect![[r#"
        twilio api did not answer within 300ms
        status=None code=None call_gone=false retryable=true retry_after=None
    "#]],
    )
    .await;
}

#[tokio::test]
async fn refused_connection_is_a_transport_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = client(&format!("http://{addr}/2010-04-01"))
        .complete_call(&call_sid())
        .await
        .unwrap_err();
    assert!(matches!(err, RestError::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn twiml_over_the_limit_is_refused_before_sending() {
    let mut server = start_server(ok(200, call_json("in-progress", "inbound"))).await;
    let long = format!("<Response><Say>{}</Say></Response>", "é".repeat(3980));
    let err = client(&server.base_url)
        .update_call_twiml(&call_sid(), &long)
        .await
        .unwrap_err();
    expect![[r#"
        inline twiml has 4012 characters, twilio accepts at most 4000
        status=None code=None call_gone=false retryable=false retry_after=None
    "#]]
    .assert_eq(&render_error(&err));
    let request = CreateCall::new(
        "+15552223333",
        "+15550001111",
        CallInstructions::Twiml(long),
    );
    let err = client(&server.base_url)
        .create_call(&request)
        .await
        .unwrap_err();
    assert!(matches!(err, RestError::TwimlTooLong { .. }), "{err:?}");
    assert!(server.requests_rx.try_recv().is_err(), "nothing was sent");
    // Exactly at the limit is allowed (counted in characters, not bytes).
    let at_limit = "é".repeat(4000);
    client(&server.base_url)
        .update_call_twiml(&call_sid(), &at_limit)
        .await
        .unwrap();
}

#[tokio::test]
async fn debug_output_never_shows_the_token() {
    let server = start_server(Reply::Hang).await;
    let client = client(&server.base_url);
    let err = client.complete_call(&call_sid()).await.unwrap_err();
    for text in [format!("{client:?}"), format!("{err:?}"), err.to_string()] {
        assert!(!text.contains(TOKEN), "{text}");
    }
}

#[tokio::test]
async fn send_message_posts_to_from_and_body() {
    let mut server = start_server(ok(
        201,
        r#"{"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": "+15552223333",
            "from": "+15557654321", "body": "Your oil change is booked.", "num_segments": "1",
            "error_code": null, "error_message": null}"#
            .to_owned(),
    ))
    .await;
    let body = "Main Street Auto Care: your oil change is booked for Wed Nov 25 at 9:00 AM. Reply STOP to opt out.";
    let message = client(&server.base_url)
        .send_message(&twilio::rest::CreateMessage {
            to: "+15552223333".into(),
            from: "+15557654321".into(),
            body: body.into(),
        })
        .await
        .unwrap();
    assert_eq!(message.sid, "SM0123456789abcdef0123456789abcdef");
    assert_eq!(message.status, "queued");
    let request = next_request(&mut server).await;
    assert_form_post(
        &request,
        &format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json"),
        ACCOUNT,
        &[
            ("To", "+15552223333"),
            ("From", "+15557654321"),
            ("Body", body),
        ],
    );
}

#[tokio::test]
async fn a_message_to_an_unsubscribed_recipient_says_so_and_a_long_one_is_refused_before_sending() {
    let server = start_server(ok(
        400,
        r#"{"code": 21610, "message": "Attempt to send to unsubscribed recipient", "more_info": "https://www.twilio.com/docs/errors/21610", "status": 400}"#
            .to_owned(),
    ))
    .await;
    let message = |body: String| twilio::rest::CreateMessage {
        to: "+15552223333".into(),
        from: "+15557654321".into(),
        body,
    };
    let err = client(&server.base_url)
        .send_message(&message("Your appointment is confirmed.".into()))
        .await
        .unwrap_err();
    assert!(err.is_unsubscribed_recipient(), "{err}");
    assert!(!err.is_retryable());
    let err = client(&server.base_url)
        .send_message(&message("x".repeat(1601)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RestError::MessageTooLong {
                chars: 1601,
                max: 1600
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn start_recording_asks_for_both_parties_on_their_own_channels_with_a_status_callback() {
    let mut server = start_server(ok(
        201,
        r#"{"sid": "RE0123456789abcdef0123456789abcdef", "status": "in-progress", "channels": 2,
            "call_sid": "CA8e4d2c7b1a9f60354e2d1c0b9a887766", "source": "StartCallRecordingAPI"}"#
            .to_owned(),
    ))
    .await;
    let recording = client(&server.base_url)
        .start_recording(&call_sid(), "https://gw.example/twilio/recording")
        .await
        .unwrap();
    assert_eq!(recording.sid, "RE0123456789abcdef0123456789abcdef");
    assert_eq!(recording.status, "in-progress");
    let request = next_request(&mut server).await;
    assert_form_post(
        &request,
        &format!("/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL}/Recordings.json"),
        ACCOUNT,
        &[
            ("RecordingChannels", "dual"),
            (
                "RecordingStatusCallback",
                "https://gw.example/twilio/recording",
            ),
            ("RecordingStatusCallbackMethod", "POST"),
        ],
    );
}

#[tokio::test]
async fn delete_recording_sends_delete_and_a_recording_already_gone_says_so() {
    let mut server = start_server(ok(204, String::new())).await;
    client(&server.base_url)
        .delete_recording("RE0123456789abcdef0123456789abcdef")
        .await
        .unwrap();
    let request = next_request(&mut server).await;
    assert_eq!(request.method, Method::DELETE);
    assert_eq!(
        request.path,
        format!(
            "/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE0123456789abcdef0123456789abcdef.json"
        )
    );
    assert!(request.authorization.unwrap().starts_with("Basic "));
    let gone = start_server(ok(
        404,
        r#"{"code": 20404, "message": "The requested resource was not found", "status": 404}"#
            .to_owned(),
    ))
    .await;
    let err = client(&gone.base_url)
        .delete_recording("RE0123456789abcdef0123456789abcdef")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}
