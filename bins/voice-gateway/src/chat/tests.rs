//! Scripted `chat` sessions with no provider keys: the six call flows, the offline agent
//! answering, on a SQLite database with the demo data, at a fixed time.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::*;

/// Monday 2026-12-07, 9:00 in New York.
fn now() -> DateTime<Utc> {
    "2026-12-07T14:00:00Z".parse().unwrap()
}

const JOHN: &str = "+14135550100";
const MARIA: &str = "+14135550101";

struct Shop {
    dir: tempfile::TempDir,
    url: String,
}

impl Shop {
    /// A fresh database with the demo data.
    async fn new() -> Shop {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("crm.db").display());
        let crm = self::crm(&url).await;
        crm.seed_demo(crm::DEMO_JSON, now()).await.unwrap();
        crm.close().await.unwrap();
        Shop { dir, url }
    }

    /// The transcript and how the call ended.
    async fn chat(&self, args: ChatArgs, lines: &[&str]) -> (String, CallStatus) {
        let spool = self.dir.path().join("spool").display().to_string();
        let url = self.url.clone();
        let config = Config::from_lookup(|key| match key {
            "DATABASE_URL" => Some(url.clone()),
            "RECORD_SPOOL_DIR" => Some(spool.clone()),
            _ => None,
        })
        .unwrap();
        let input = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        let mut out = Vec::new();
        let clock: Clock = Arc::new(now);
        let status = chat(
            config,
            ChatArgs { echo: true, ..args },
            Some(clock),
            tokio::io::BufReader::new(input.as_bytes()),
            &mut out,
        )
        .await
        .unwrap();
        (String::from_utf8(out).unwrap(), status)
    }

    async fn crm(&self) -> crm::Crm {
        crm(&self.url).await
    }
}

async fn crm(url: &str) -> crm::Crm {
    crm::connect_and_migrate(
        url,
        &crm::CrmConfig::default(),
        conversation::ShopConfig::default_shop(),
    )
    .await
    .unwrap()
}

fn from(number: &str) -> ChatArgs {
    ChatArgs {
        from: Some(number.to_owned()),
        ..ChatArgs::default()
    }
}

fn outbound(kind: OutboundKind, to: &str) -> ChatArgs {
    ChatArgs {
        outbound: Some(kind),
        to: Some(to.to_owned()),
        ..ChatArgs::default()
    }
}

#[track_caller]
fn has(transcript: &str, line: &str) {
    assert!(
        transcript.lines().any(|l| l == line),
        "no line {line:?} in:\n{transcript}"
    );
}

/// inbound_new: a caller the CRM does not know books an oil change; the customer, the vehicle,
/// the appointment and the call record are real rows afterwards.
#[tokio::test]
async fn a_new_caller_books_with_no_keys_and_it_is_in_the_database() {
    let shop = Shop::new().await;
    let (transcript, status) = shop
        .chat(
            ChatArgs::default(),
            &[
                "Hi, I need an oil change",
                "tomorrow at 10am",
                "my name is Dana Whitfield",
                "it's a 2018 Toyota Camry",
                "yes",
                "no that's all, bye",
            ],
        )
        .await;
    has(
        &transcript,
        "Main Street Auto Care's receptionist, answered by the offline agent (no OPENAI_API_KEY). \
         One line per turn; Ctrl-D hangs up.",
    );
    has(
        &transcript,
        "agent> Thanks for calling Main Street Auto Care. This is the virtual assistant. How can \
         I help you today?",
    );
    has(
        &transcript,
        "agent> Let me read that back: an oil change tomorrow at 10 AM for your 2018 Toyota \
         Camry, under the name Dana Whitfield. Shall I book it?",
    );
    has(
        &transcript,
        "agent> You're all set: your oil change is booked for tomorrow at 10 AM. Is there \
         anything else I can help you with?",
    );
    has(
        &transcript,
        "agent> Thank you for calling Main Street Auto Care. Have a great day!",
    );
    assert_eq!(status, CallStatus::Completed);
    let crm = shop.crm().await;
    let customer = crm
        .lookup_customer(NEW_CALLER, now())
        .await
        .unwrap()
        .expect("the booking made the customer");
    assert_eq!(
        (customer.first_name.as_str(), customer.last_name.as_str()),
        ("Dana", "Whitfield")
    );
    let booked = &customer.upcoming_appointments[0];
    assert_eq!(booked.service, "oil change");
    assert_eq!(
        booked.starts_at,
        "2026-12-08T15:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert_eq!(booked.vehicle.as_deref(), Some("2018 Toyota Camry"));
    let report = crm
        .report(now().date_naive(), now().date_naive())
        .await
        .unwrap();
    assert_eq!(report.total.calls, 1, "the chat's call record is written");
    assert_eq!(report.total.bookings, 1);
}

/// inbound_existing: John moves his brake service; a question about hours in between is answered
/// for the week, not for the day of the booking.
#[tokio::test]
async fn a_known_caller_moves_his_appointment() {
    let shop = Shop::new().await;
    let (transcript, status) = shop
        .chat(
            from(JOHN),
            &[
                "I need to move my brake appointment to thursday",
                "what are your hours",
                "9am",
                "yes",
            ],
        )
        .await;
    has(
        &transcript,
        "agent> Hi John, thanks for calling Main Street Auto Care. This is the virtual \
         assistant. How can I help you today?",
    );
    has(
        &transcript,
        "agent> We're open Monday to Friday from 8 AM to 6 PM, Saturday from 9 AM to 2 PM and \
         closed Sunday. Now, back to your appointment.",
    );
    assert!(
        transcript.contains("to Thursday, December 10 at 9 AM. Is that right?"),
        "{transcript}"
    );
    has(
        &transcript,
        "agent> Done. Your brake service is now on Thursday, December 10 at 9 AM. Is there \
         anything else I can help you with?",
    );
    assert_eq!(status, CallStatus::Completed);
    let john = shop
        .crm()
        .await
        .lookup_customer(JOHN, now())
        .await
        .unwrap()
        .unwrap();
    assert!(
        john.upcoming_appointments
            .iter()
            .any(|a| a.service == "brake service"
                && a.starts_at == "2026-12-10T14:00:00Z".parse::<DateTime<Utc>>().unwrap())
    );
}

/// inbound_general: a withheld number asks for prices and hours, then for a person: the call
/// is handed to the advisor.
#[tokio::test]
async fn a_withheld_caller_asks_and_is_handed_to_a_person() {
    let shop = Shop::new().await;
    let (transcript, status) = shop
        .chat(
            from("anonymous"),
            &[
                "how much is a tire rotation",
                "let me talk to a manager",
                "hello?",
            ],
        )
        .await;
    has(
        &transcript,
        "agent> Tire rotation usually runs $25 to $50, and takes about 30 minutes. Is there \
         anything else I can help you with?",
    );
    has(&transcript, "[the call is handed to a service advisor]");
    assert!(
        !transcript.contains("you> hello?"),
        "nothing is read after the handover:\n{transcript}"
    );
    assert_eq!(status, CallStatus::Transferred);
}

/// outbound_reminder: John confirms; outbound_service_due: Maria books the oil change she is due.
#[tokio::test]
async fn outbound_reminder_and_service_due_calls() {
    let shop = Shop::new().await;
    let (transcript, status) = shop
        .chat(
            outbound(OutboundKind::Reminder, JOHN),
            &["yes I'll be there"],
        )
        .await;
    assert!(
        transcript.contains("calling to remind you of your brake service appointment"),
        "{transcript}"
    );
    assert!(
        transcript.contains("agent> Great, we'll see you"),
        "{transcript}"
    );
    assert_eq!(status, CallStatus::Completed);

    let (transcript, _) = shop
        .chat(
            outbound(OutboundKind::ServiceDue, MARIA),
            &["sure", "wednesday at 11am", "yes"],
        )
        .await;
    has(
        &transcript,
        "agent> Hi Maria, this is the virtual assistant at Main Street Auto Care. Our records \
         show your 2015 Chevrolet Silverado is due for an oil change. Would you like to schedule \
         it?",
    );
    has(
        &transcript,
        "agent> You're all set: your oil change is booked for Wednesday, December 9 at 11 AM. Is \
         there anything else I can help you with?",
    );
    let maria = shop
        .crm()
        .await
        .lookup_customer(MARIA, now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        maria.upcoming_appointments[0].vehicle.as_deref(),
        Some("2015 Chevrolet Silverado")
    );
}

/// outbound_follow_up: John had an oil change last week and all is well.
#[tokio::test]
async fn outbound_follow_up_call() {
    let shop = Shop::new().await;
    let (transcript, status) = shop
        .chat(
            ChatArgs {
                service: Some("oil change".to_owned()),
                starts_at: Some("2026-11-30T15:00:00Z".to_owned()),
                ..outbound(OutboundKind::FollowUp, JOHN)
            },
            &["it's running great, thanks"],
        )
        .await;
    has(
        &transcript,
        "agent> Hi John, this is the virtual assistant at Main Street Auto Care, following up on \
         the oil change we did on Monday, November 30. How is everything running?",
    );
    has(
        &transcript,
        "agent> Thank you for your time. Have a great day!",
    );
    assert_eq!(status, CallStatus::Completed);
}
