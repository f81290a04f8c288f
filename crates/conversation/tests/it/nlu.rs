//! `nlu::analyze_line`: plain text, JSON scripts, and bad lines.

use conversation::ShopConfig;
use conversation::nlu::analyze_line;
use expect_test::{Expect, expect};

use crate::now;

#[track_caller]
fn check(line: &str, expect: Expect) {
    let shop = ShopConfig::default_shop();
    let output = analyze_line(line, now(), &shop);
    expect.assert_eq(&serde_json::to_string(&output).unwrap());
}

#[test]
fn plain_text() {
    check(
        "Hi, I need to schedule an oil change tomorrow at 2pm",
        expect![[
            r#"{"call_type":"inbound_general","collected_slots":{"preferred_date":"tomorrow","preferred_time":"2pm","resolved_date":"2026-11-25","resolved_time":"14:00","service_type":"oil change"},"escalation":null,"input":"Hi, I need to schedule an oil change tomorrow at 2pm","intent":"schedule_appointment","resolved":{"date":"2026-11-25","period":null,"time":"14:00"},"state":"slot_collection","transitions":[{"from":"greeting","intent":"schedule_appointment","to":"intent_detection","turn":1},{"from":"intent_detection","intent":"schedule_appointment","to":"slot_collection","turn":1}]}"#
        ]],
    );
}

#[test]
fn plain_text_escalation() {
    check(
        "let me talk to a manager",
        expect![[
            r#"{"call_type":"inbound_general","collected_slots":{},"escalation":"manager_request","input":"let me talk to a manager","intent":null,"resolved":{"date":null,"period":null,"time":null},"state":"escalation","transitions":[{"from":"greeting","intent":null,"to":"escalation","turn":1}]}"#
        ]],
    );
}

#[test]
fn json_script() {
    check(
        r#"{"turns": ["i need brakes", "friday at 10", "yes"], "call_type": "inbound_existing", "customer": {"id": 1, "first_name": "Ann", "last_name": "Lee", "phone": "+15555550177", "email": null, "vehicles": [], "upcoming_appointments": []}}"#,
        expect![[
            r#"{"call_type":"inbound_existing","collected_slots":{"preferred_date":"friday","preferred_time":"10","resolved_date":"2026-11-27","resolved_time":"10:00","service_type":"brake service"},"escalation":null,"input":{"call_type":"inbound_existing","customer":{"email":null,"first_name":"Ann","id":1,"last_name":"Lee","phone":"+15555550177","upcoming_appointments":[],"vehicles":[]},"turns":["i need brakes","friday at 10","yes"]},"intent":"schedule_appointment","resolved":{"date":"2026-11-27","period":null,"time":"10:00"},"state":"execution","transitions":[{"from":"greeting","intent":"schedule_appointment","to":"intent_detection","turn":1},{"from":"intent_detection","intent":"schedule_appointment","to":"slot_collection","turn":1},{"from":"slot_collection","intent":"schedule_appointment","to":"confirmation","turn":2},{"from":"confirmation","intent":"schedule_appointment","to":"execution","turn":3}]}"#
        ]],
    );
}

#[test]
fn bad_lines() {
    check(
        "{not json",
        expect![[
            r#"{"error":"invalid JSON: key must be a string at line 1 column 2","input":"{not json"}"#
        ]],
    );
    check(
        r#"{"turns": "hi"}"#,
        expect![[
            r#"{"error":"invalid script: invalid type: string \"hi\", expected a sequence","input":{"turns":"hi"}}"#
        ]],
    );
    check(
        r#"{"turns": ["hi"], "call_type": "outbound_reminder"}"#,
        expect![[
            r#"{"error":"outbound_reminder needs `customer`","input":{"call_type":"outbound_reminder","turns":["hi"]}}"#
        ]],
    );
    check(
        r#"{"turns": ["hi"], "call_type": "carrier_pigeon"}"#,
        expect![[
            r#"{"error":"invalid script: unknown variant `carrier_pigeon`, expected one of `inbound_new`, `inbound_existing`, `inbound_general`, `outbound_reminder`, `outbound_follow_up`, `outbound_service_due`","input":{"call_type":"carrier_pigeon","turns":["hi"]}}"#
        ]],
    );
    check("   ", expect![[r#"{"error":"empty input","input":"   "}"#]]);
}

/// Each shop's words are its own, even though they are built once per shop and shared: a
/// synonym one shop adds is not heard by another, and a second copy of a shop gets its own.
#[test]
fn every_shop_is_matched_with_its_own_catalog() {
    use std::sync::Arc;

    use conversation::{ShopConfig, create_inbound_general_manager};

    let plain = Arc::new(ShopConfig::default_shop());
    let mut custom = ShopConfig::default_shop();
    let oil = custom
        .services
        .iter_mut()
        .find(|s| s.name == "oil change")
        .expect("the starter shop sells oil changes");
    oil.synonyms.push("lube me up".to_owned());
    let custom = Arc::new(custom);
    let service = |shop: &Arc<ShopConfig>| {
        let mut manager = create_inbound_general_manager(None, shop.clone());
        manager.process_message("can you lube me up tomorrow", crate::now());
        manager.slots().service_type.clone()
    };
    for _ in 0..2 {
        assert_eq!(service(&custom).as_deref(), Some("oil change"));
        assert_eq!(service(&plain), None);
    }
    drop(custom);
    let again = Arc::new(ShopConfig::default_shop());
    assert_eq!(service(&again), None);
}
