use std::sync::Mutex;
use std::time::Duration;

use chrono::TimeZone;
use conversation::ShopConfig;
use serde_json::json;

use super::*;

#[test]
fn a_confirmation_names_the_service_the_time_and_how_to_change_it() {
    let shop = ShopConfig::default_shop();
    let result = json!({"ok": true, "appointment": {"service": "oil change", "spoken": "Wednesday, November 25 at 9 AM"}});
    assert_eq!(
        confirmation_text(&shop, "book_appointment", &result).unwrap(),
        format!(
            "{}: your oil change is booked for Wednesday, November 25 at 9 AM. 1200 Main Street, \
             Springfield. To change it, call +15555550123. Reply STOP to opt out.",
            shop.name
        )
    );
    assert!(
        confirmation_text(&shop, "reschedule_appointment", &result)
            .unwrap()
            .contains("is moved to Wednesday")
    );
    let cancelled = confirmation_text(&shop, "cancel_appointment", &result).unwrap();
    assert!(
        cancelled.contains("oil change is cancelled: Wednesday"),
        "{cancelled}"
    );
    assert!(!cancelled.contains("1200 Main"), "{cancelled}");
    assert!(cancelled.contains("To book again, call"), "{cancelled}");
    assert_eq!(confirmation_text(&shop, "get_service_price", &result), None);
    assert_eq!(
        confirmation_text(&shop, "book_appointment", &json!({"ok": true})),
        None
    );
}

/// Records what it was asked to send; answers `Unsubscribed` when told to.
#[derive(Default)]
struct FakeTexts {
    sent: Mutex<Vec<(String, String)>>,
    unsubscribed: bool,
}

#[async_trait]
impl TextSender for FakeTexts {
    async fn send_text(&self, to: &str, body: &str) -> Result<(), TextError> {
        self.sent
            .lock()
            .unwrap()
            .push((to.to_owned(), body.to_owned()));
        if self.unsubscribed {
            Err(TextError::Unsubscribed)
        } else {
            Ok(())
        }
    }
}

const CALLER: &str = "+14135550177";
/// A second caller, whose text shows the first caller's did (or did not) come.
const OTHER: &str = "+14135550178";

async fn make_port(texts: Arc<FakeTexts>) -> (CrmPort, crm::Crm) {
    let crm = crm::connect_and_migrate(
        "sqlite::memory:",
        &crm::CrmConfig::default(),
        ShopConfig::default_shop(),
    )
    .await
    .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
    let port =
        CrmPort::new(Arc::new(crm.clone()), Arc::new(move || now)).with_text_confirmations(texts);
    (port, crm)
}

fn context() -> ToolCallContext {
    ToolCallContext {
        call_sid: "CAtexts".to_owned(),
        caller_phone: Some(CALLER.to_owned()),
        customer_id: None,
        now: Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap(),
    }
}

/// A new customer books an oil change tomorrow at ten.
async fn book_as(port: &CrmPort, phone: &str) -> ToolReply {
    let context = ToolCallContext {
        caller_phone: Some(phone.to_owned()),
        ..context()
    };
    port.execute_tool(
        "book_appointment",
        r#"{"service": "oil change", "start": "2026-11-25T10:00", "first_name": "Bo", "last_name": "Ray"}"#,
        &context,
    )
    .await
}

async fn book(port: &CrmPort) -> ToolReply {
    port.execute_tool(
        "book_appointment",
        r#"{"service": "oil change", "start": "2026-11-25T09:00", "first_name": "Ann", "last_name": "Lee"}"#,
        &context(),
    )
    .await
}

/// Waits (bounded, real time) until `done` holds.
async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} did not happen");
}

#[tokio::test]
async fn a_booking_is_confirmed_by_text_beside_the_call() {
    let texts = Arc::new(FakeTexts::default());
    let (port, _crm) = make_port(texts.clone()).await;
    assert_eq!(book(&port).await.outcome, ToolOutcome::Succeeded);
    eventually("the text", async || !texts.sent.lock().unwrap().is_empty()).await;
    let sent = texts.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, CALLER);
    assert!(
        sent[0].1.contains("your oil change is booked for"),
        "{}",
        sent[0].1
    );
    // A refused booking (the slot is in the past now) texts nothing more.
    let refused = port
        .execute_tool(
            "book_appointment",
            r#"{"service": "oil change", "start": "2026-11-20T09:00"}"#,
            &context(),
        )
        .await;
    assert_ne!(refused.outcome, ToolOutcome::Succeeded);
    // A later booking by another caller is texted; nothing came of the refused one.
    assert_eq!(book_as(&port, OTHER).await.outcome, ToolOutcome::Succeeded);
    eventually("the second text", async || {
        texts.sent.lock().unwrap().len() == 2
    })
    .await;
    let sent = texts.sent.lock().unwrap().clone();
    assert_eq!((sent[0].0.as_str(), sent[1].0.as_str()), (CALLER, OTHER));
}

#[tokio::test]
async fn an_opted_out_number_is_never_texted_and_a_provider_opt_out_is_recorded() {
    let texts = Arc::new(FakeTexts::default());
    let (port, crm) = make_port(texts.clone()).await;
    crm.set_sms_opt_out(CALLER, true, context().now)
        .await
        .unwrap();
    assert_eq!(book(&port).await.outcome, ToolOutcome::Succeeded);
    // Another caller, booked after, is texted; the opted-out one never is.
    assert_eq!(book_as(&port, OTHER).await.outcome, ToolOutcome::Succeeded);
    eventually("the other caller's text", async || {
        !texts.sent.lock().unwrap().is_empty()
    })
    .await;
    let sent = texts.sent.lock().unwrap().clone();
    assert!(sent.iter().all(|(to, _)| to != CALLER), "{sent:?}");

    let texts = Arc::new(FakeTexts {
        unsubscribed: true,
        ..FakeTexts::default()
    });
    let (port, crm) = make_port(texts.clone()).await;
    assert_eq!(book(&port).await.outcome, ToolOutcome::Succeeded);
    eventually("the opt-out on record", async || {
        crm.sms_opted_out(CALLER).await.unwrap()
    })
    .await;
}
