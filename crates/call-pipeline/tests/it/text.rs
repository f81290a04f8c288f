//! A text call: the real `run_call` with typed lines in and the agent's replies out.

use std::{collections::HashMap, sync::Arc};

use call_pipeline::{
    CallDeps, CallStatus, OfflineAgentFactory, PipelineConfig, RecordOutbox, TextCall, TextEvent,
};
use conversation::ShopConfig;
use session_store::{MemorySessionStore, SessionStoreConfig};
use tokio_util::sync::CancellationToken;

use crate::harness::{fake_crm, john_smith, now};

const CALL: &str = "CH00000000000000000000000000000001";

async fn next_reply(events: &mut tokio::sync::mpsc::UnboundedReceiver<TextEvent>) -> TextEvent {
    loop {
        match events.recv().await.expect("the call is still on") {
            TextEvent::Conversation { .. } | TextEvent::Listening => {}
            other => return other,
        }
    }
}

/// The greeting, a question answered by the offline agent, the manager's state on the way, and
/// the record of a completed call when the caller leaves; a request for a person ends the
/// text call with a transfer.
#[tokio::test(start_paused = true)]
async fn typed_lines_are_caller_turns_and_replies_come_back_whole() {
    let crm = Arc::new(fake_crm(
        Some(john_smith()),
        false,
        call_pipeline::ToolOutcome::Succeeded,
    ));
    let sessions: Arc<MemorySessionStore> =
        Arc::new(MemorySessionStore::new(&SessionStoreConfig::default()).unwrap());
    let (records, worker) = RecordOutbox::new(crm.clone(), None);
    let shutdown = CancellationToken::new();
    let outbox = tokio::spawn(worker.run(shutdown.clone()));
    let offline: OfflineAgentFactory =
        Arc::new(|conversation, now| Arc::new(offline_agent::OfflineAgent::new(conversation, now)));
    let run = |parameters: HashMap<String, String>| {
        let (call, caller) = TextCall::new(CALL, parameters);
        let deps = CallDeps {
            stt: call.speech_to_text(),
            llm: None,
            offline_agent: Some(offline.clone()),
            tts: call.text_to_speech(),
            tts_fallback: None,
            crm: crm.clone(),
            sessions: sessions.clone(),
            call_control: call.call_control(),
            shop: Arc::new(ShopConfig::default_shop()),
            admission: None,
            pending_slot: None,
            records: records.clone(),
            now: Arc::new(now),
            observer: Some(call.observer()),
            capture_dir: None,
            handoff: None,
        };
        let shutdown = shutdown.clone();
        let task = tokio::spawn(async move {
            call.run(deps, Arc::new(PipelineConfig::default()), &shutdown)
                .await
        });
        (task, caller)
    };
    let from = HashMap::from([("From".to_owned(), john_smith().phone)]);

    let (task, mut caller) = run(from.clone());
    let TextEvent::Agent(greeting) = next_reply(&mut caller.events).await else {
        panic!("a greeting first");
    };
    assert!(greeting.contains("John"), "{greeting}");
    caller
        .lines
        .send("what are your hours".to_owned())
        .await
        .unwrap();
    let mut state = caller.events.recv().await.unwrap();
    while state == TextEvent::Listening {
        state = caller.events.recv().await.unwrap();
    }
    assert_eq!(
        state,
        TextEvent::Conversation {
            state: "execution".to_owned(),
            intent: Some("check_hours".to_owned())
        }
    );
    let TextEvent::Agent(hours) = next_reply(&mut caller.events).await else {
        panic!("an answer");
    };
    assert!(hours.starts_with("We're open Monday to Friday"), "{hours}");
    drop(caller.lines);
    let outcome = task.await.unwrap();
    assert_eq!(outcome.status, CallStatus::Completed);
    assert_eq!(outcome.call_sid.as_deref(), Some(CALL));

    let (task, mut caller) = run(from);
    next_reply(&mut caller.events).await;
    caller
        .lines
        .send("let me talk to a manager".to_owned())
        .await
        .unwrap();
    let TextEvent::Agent(line) = next_reply(&mut caller.events).await else {
        panic!("the escalation line");
    };
    assert_eq!(line, PipelineConfig::default().escalation_line);
    assert_eq!(next_reply(&mut caller.events).await, TextEvent::Transferred);
    assert_eq!(task.await.unwrap().status, CallStatus::Transferred);
    shutdown.cancel();
    outbox.await.unwrap();
    assert!(
        crm.records()
            .iter()
            .any(|r| r.call_sid == CALL && r.status == "transferred")
    );
}
