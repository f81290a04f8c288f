//! Warm transfers and answering machines over real sockets: the gateway's Twilio REST calls go to
//! the local mock (paths, auth and form fields checked), Twilio's webhooks are posted signed, and
//! the simulated Twilio stream hears the hold audio and the agent.

use super::*;

const ADVISOR: &str = "+14135550999";

/// A caller asks for a person; the gateway rings the advisor and the caller holds.
async fn escalate_to_hold(
    gateway: &Gateway,
    log: &RestLog,
    requested: &Signal,
    call_sid: &str,
) -> TwilioStream {
    let twiml = gateway.voice_twiml(call_sid, JOHN).await;
    let call = TwilioStream::open(gateway, call_sid, &parameters(&twiml), true).await;
    requested
        .wait_until("the advisor's call", || {
            log.lock()
                .unwrap()
                .iter()
                .any(|(_, path, _, _)| path.ends_with("/Calls.json"))
        })
        .await;
    call.wait_until("hold audio", || {
        call.received
            .lock()
            .unwrap()
            .iter()
            .any(|m| m["event"] == "mark" && m["mark"]["name"] == "hold:1")
    })
    .await;
    call
}

fn manager_request() -> SttScript {
    SttScript::new().step(
        SttTrigger::AfterAudioFrames(15),
        SttScriptEvent::speech_final("I want to speak to a manager"),
    )
}

/// The advisor is rung with the call's summary in a one-key `<Gather>`; pressing 1 moves the
/// caller's call into a conference (REST) and answers the advisor's leg with the same room.
#[tokio::test]
async fn a_warm_transfer_rings_the_advisor_with_a_summary_and_bridges_on_press_1() {
    let (api, log, requested) = twilio_rest_mock().await;
    let gateway = start(Setup {
        stt: manager_request(),
        twilio_api: Some(api),
        ..Setup::default()
    })
    .await;
    let call_sid = "CA0000000000000000000000000000a801";
    let call = escalate_to_hold(&gateway, &log, &requested, call_sid).await;
    let (method, path, auth, form) = log.lock().unwrap()[0].clone();
    assert_eq!(method, "POST");
    assert_eq!(
        path,
        format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Calls.json")
    );
    assert!(auth.starts_with("Basic "));
    assert_eq!(form_field(&form, "To"), ADVISOR);
    assert_eq!(form_field(&form, "From"), "+14135550000");
    assert_eq!(form_field(&form, "Timeout"), "20");
    assert_eq!(
        form_field(&form, "StatusCallback"),
        format!("{}/twilio/transfer/status?call={call_sid}", gateway.base)
    );
    assert_eq!(form_field(&form, "StatusCallbackEvent"), "completed");
    let whisper = form_field(&form, "Twiml");
    assert!(
        whisper.contains(&format!(
            r#"<Gather input="dtmf" action="{}/twilio/transfer/accept?call={call_sid}" numDigits="1""#,
            gateway.base
        )) && whisper.contains("John Smith, an existing customer")
            && whisper.contains("Handed over because they asked for a person.")
            && whisper.contains(&format!(
                "<Redirect>{}/twilio/transfer/declined?call={call_sid}</Redirect>",
                gateway.base
            )),
        "{whisper}"
    );
    assert!(gateway.tts.received_text().contains("Please hold"));

    // Twilio posts the advisor's key press on the advisor's leg (CA900), signed.
    let accept_path = format!("/twilio/transfer/accept?call={call_sid}");
    let press = [
        ("AccountSid", TWILIO_ACCOUNT),
        ("CallSid", "CA900"),
        ("Digits", "1"),
    ];
    assert_eq!(
        gateway
            .post_webhook(&accept_path, &press, false)
            .await
            .status(),
        403,
        "an unsigned key press is refused"
    );
    let answer = gateway.post_webhook(&accept_path, &press, true).await;
    assert_eq!(answer.status(), 200);
    let room = format!(
        r#"<Conference startConferenceOnEnter="true" endConferenceOnExit="true" beep="false" waitUrl="">transfer-{call_sid}</Conference>"#
    );
    let advisor_twiml = answer.text().await.unwrap();
    assert!(advisor_twiml.contains(&room), "{advisor_twiml}");
    let (_, path, _, form) = log.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        path,
        format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Calls/{call_sid}.json")
    );
    assert!(form_field(&form, "Twiml").contains(&room));
    // Twilio ends the stream as it moves the caller.
    call.hang_up(call_sid).await;
    let gateway = gateway.shutdown().await;
    let crm = open_crm(&gateway.database_url).await;
    let record = crm.get_call(call_sid).await.unwrap().unwrap();
    assert_eq!(record.status, "transferred");
    assert!(crm.callback_requests(false, 10).await.unwrap().is_empty());
}

/// The caller hangs up on hold: the gateway claims the transfer as cancelled, so the advisor's
/// late "press 1" moves nobody, and it stops the advisor's leg both ways (`canceled` for a phone
/// still ringing, `completed` for one answered during the summary).
#[tokio::test]
async fn a_caller_who_hangs_up_on_hold_is_not_bridged_and_the_advisor_is_released() {
    let (api, log, requested) = twilio_rest_mock().await;
    let gateway = start(Setup {
        stt: manager_request(),
        twilio_api: Some(api),
        ..Setup::default()
    })
    .await;
    let call_sid = "CA0000000000000000000000000000a804";
    let call = escalate_to_hold(&gateway, &log, &requested, call_sid).await;
    call.hang_up(call_sid).await;
    let leg = format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Calls/CA900.json");
    let leg_updates = || {
        log.lock()
            .unwrap()
            .iter()
            .filter(|(_, path, _, _)| *path == leg)
            .map(|(_, _, _, form)| form_field(form, "Status"))
            .collect::<Vec<_>>()
    };
    requested
        .wait_until("the advisor's leg released", || leg_updates().len() == 2)
        .await;
    assert_eq!(leg_updates(), ["canceled", "completed"]);

    let answer = gateway
        .post_webhook(
            &format!("/twilio/transfer/accept?call={call_sid}"),
            &[
                ("AccountSid", TWILIO_ACCOUNT),
                ("CallSid", "CA900"),
                ("Digits", "1"),
            ],
            true,
        )
        .await;
    assert_eq!(answer.status(), 200);
    let advisor_twiml = answer.text().await.unwrap();
    assert!(
        advisor_twiml.contains("no longer waiting") && !advisor_twiml.contains("Conference"),
        "{advisor_twiml}"
    );
    let caller_leg = format!("/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Calls/{call_sid}.json");
    assert!(
        !log.lock()
            .unwrap()
            .iter()
            .any(|(_, path, _, _)| *path == caller_leg),
        "the caller's call was never redirected"
    );
    let gateway = gateway.shutdown().await;
    let crm = open_crm(&gateway.database_url).await;
    let record = crm.get_call(call_sid).await.unwrap().unwrap();
    assert_eq!(record.status, "completed");
    let callbacks = crm.callback_requests(false, 10).await.unwrap();
    assert_eq!(
        callbacks.len(),
        1,
        "a caller who gave up on hold is called back"
    );
}

/// The advisor does not answer: Twilio's status callback for their leg says so, the hold audio
/// is cleared and the agent starts taking a message; a caller who hangs up then still gets a
/// callback request, with the number they called from.
#[tokio::test]
async fn an_advisor_who_does_not_answer_leaves_the_agent_to_take_a_message() {
    let (api, log, requested) = twilio_rest_mock().await;
    let gateway = start(Setup {
        stt: manager_request(),
        twilio_api: Some(api),
        ..Setup::default()
    })
    .await;
    let call_sid = "CA0000000000000000000000000000a802";
    let call = escalate_to_hold(&gateway, &log, &requested, call_sid).await;
    let status = gateway
        .post_webhook(
            &format!("/twilio/transfer/status?call={call_sid}"),
            &[
                ("AccountSid", TWILIO_ACCOUNT),
                ("CallSid", "CA900"),
                ("CallStatus", "no-answer"),
            ],
            true,
        )
        .await;
    assert_eq!(status.status(), 204);
    call.wait_until("the message line", || {
        gateway
            .tts
            .received_text()
            .contains("can't come to the phone right now")
    })
    .await;
    assert!(
        call.received
            .lock()
            .unwrap()
            .iter()
            .any(|m| m["event"] == "clear"),
        "the hold audio was cleared"
    );
    // John is known: the agent reads back the number he calls from.
    assert!(
        gateway
            .tts
            .received_text()
            .contains("Is 4 1 3, 5 5 5, 0 1 0 0 the best number to reach you?"),
        "{}",
        gateway.tts.received_text()
    );
    call.hang_up(call_sid).await;
    let gateway = gateway.shutdown().await;
    let crm = open_crm(&gateway.database_url).await;
    let callbacks = crm.callback_requests(false, 10).await.unwrap();
    assert_eq!(callbacks.len(), 1, "{callbacks:?}");
    assert_eq!(callbacks[0].call_sid, call_sid);
    assert_eq!(callbacks[0].phone, JOHN);
    assert_eq!(callbacks[0].reason.as_deref(), Some("manager_request"));
    assert_eq!(callbacks[0].caller_name.as_deref(), Some("John Smith"));
}

/// `POST /api/calls` asks Twilio for asynchronous answering-machine detection; Twilio's signed
/// verdict `machine_end_beep` makes the agent leave the voicemail and end the call.
#[tokio::test]
async fn an_outbound_call_to_a_machine_leaves_a_voicemail() {
    let (api, log, _requested) = twilio_rest_mock().await;
    let gateway = start(Setup {
        twilio_api: Some(api),
        ..Setup::default()
    })
    .await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/calls", gateway.base))
        .bearer_auth(API_TOKEN)
        .json(&json!({"to": JOHN, "call_type": "outbound_reminder", "appointment_id": 7, "service": "brake service", "starts_at": "2026-11-25T14:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let (_, _, _, form) = log.lock().unwrap()[0].clone();
    assert_eq!(form_field(&form, "MachineDetection"), "DetectMessageEnd");
    assert_eq!(form_field(&form, "AsyncAmd"), "true");
    assert_eq!(
        form_field(&form, "AsyncAmdStatusCallback"),
        format!("{}/twilio/amd", gateway.base)
    );
    // Twilio answers and fetches the webhook it was given.
    let url = form_field(&form, "Url");
    assert!(url.ends_with("&amd=1"), "{url}");
    let path = url.trim_start_matches(&gateway.base).to_owned();
    let call_sid = "CA0000000000000000000000000000a803";
    let twiml = gateway
        .voice_twiml_with(
            &path,
            &[
                ("CallSid", call_sid),
                ("AccountSid", TWILIO_ACCOUNT),
                ("From", "+14135550000"),
                ("To", JOHN),
                ("CallStatus", "in-progress"),
                ("Direction", "outbound-api"),
            ],
        )
        .await;
    let call = TwilioStream::open(&gateway, call_sid, &parameters(&twiml), true).await;
    let verdict = gateway
        .post_webhook(
            "/twilio/amd",
            &[
                ("AccountSid", TWILIO_ACCOUNT),
                ("CallSid", call_sid),
                ("AnsweredBy", "machine_end_beep"),
                ("MachineDetectionDuration", "4120"),
            ],
            true,
        )
        .await;
    assert_eq!(verdict.status(), 204);
    call.wait_until("the voicemail", || {
        gateway
            .tts
            .received_text()
            .contains("with a message for John: a reminder of your brake service appointment")
    })
    .await;
    assert!(
        !gateway
            .tts
            .received_text()
            .contains("Will you still be able to make it")
    );
    // The gateway ends the call once the message has played.
    let _ = tokio::time::timeout(Duration::from_secs(20), call.closed).await;
    let _ = call.sender.await;
    let gateway = gateway.shutdown().await;
    let crm = open_crm(&gateway.database_url).await;
    assert_eq!(
        crm.get_call(call_sid).await.unwrap().unwrap().status,
        "voicemail"
    );
}

/// The do-not-call list through the operator API: a listed number is refused by `POST
/// /api/calls` (409) before Twilio is asked; it can be taken off again.
#[tokio::test]
async fn the_do_not_call_list_stops_outbound_calls() {
    let (api, log, _requested) = twilio_rest_mock().await;
    let gateway = start(Setup {
        twilio_api: Some(api),
        ..Setup::default()
    })
    .await;
    let client = reqwest::Client::new();
    let opt_outs = format!("{}/api/opt-outs", gateway.base);
    assert_eq!(
        client
            .post(&opt_outs)
            .json(&json!({"phone": JOHN}))
            .send()
            .await
            .unwrap()
            .status(),
        401,
        "the list needs the operator's token"
    );
    let added = client
        .post(&opt_outs)
        .bearer_auth(API_TOKEN)
        .json(&json!({"phone": "(413) 555-0100"}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 204);
    let list: Value = client
        .get(&opt_outs)
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["opt_outs"][0]["phone"], JOHN, "{list}");
    assert_eq!(list["opt_outs"][0]["source"], "api");
    let place = || {
        client
            .post(format!("{}/api/calls", gateway.base))
            .bearer_auth(API_TOKEN)
            .json(&json!({"to": JOHN, "call_type": "outbound_service_due"}))
            .send()
    };
    assert_eq!(place().await.unwrap().status(), 409);
    assert!(log.lock().unwrap().is_empty(), "Twilio was not asked");
    let removed = client
        .delete(format!("{opt_outs}/{}", JOHN.replace('+', "%2B")))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    let list: Value = client
        .get(&opt_outs)
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["opt_outs"], json!([]));
    // The refused attempt counted toward the number's cooldown like any other (the limits come
    // first so the API cannot be used to probe numbers).
    assert_eq!(place().await.unwrap().status(), 429);
    gateway.shutdown().await;
}
