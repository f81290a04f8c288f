//! Arbitrary input never panics and never breaks the state machine's invariants.

use conversation::nlu::analyze_line;
use conversation::{
    ShopConfig, State, ToolResult, create_inbound_existing_manager, create_inbound_general_manager,
};
use proptest::prelude::*;

use crate::{john, now, shop};

/// Words that steer the detectors, mixed with arbitrary text.
fn utterance() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        Just("book".to_owned()),
        Just("cancel".to_owned()),
        Just("yes".to_owned()),
        Just("no".to_owned()),
        Just("tomorrow".to_owned()),
        Just("quarter to".to_owned()),
        Just("next".to_owned()),
        Just("monday".to_owned()),
        Just("the 31st".to_owned()),
        Just("february".to_owned()),
        Just("0".to_owned()),
        Just("12/".to_owned()),
        Just("99:99".to_owned()),
        Just("oil change".to_owned()),
        Just("my name is".to_owned()),
        Just("2019 honda".to_owned()),
        Just("manager".to_owned()),
        Just("bye".to_owned()),
        any::<String>(),
    ];
    prop::collection::vec(word, 0..12).prop_map(|words| words.join(" "))
}

proptest! {
    #[test]
    fn conversations_never_panic(turns in prop::collection::vec(utterance(), 1..8)) {
        let mut general = create_inbound_general_manager(None, shop());
        let mut existing = create_inbound_existing_manager("+15555550111", john(), shop());
        for turn in &turns {
            for manager in [&mut general, &mut existing] {
                let before = manager.turn_count();
                let state = manager.process_message(turn, now());
                prop_assert_eq!(manager.turn_count(), before + 1);
                prop_assert_eq!(state, manager.state());
                prop_assert_eq!(manager.escalation_triggered(), state == State::Escalation);
                manager.record_tool_result(ToolResult::Succeeded);
                let _ = manager.get_system_prompt();
                let _ = serde_json::to_string(&manager.get_conversation_summary()).unwrap();
            }
        }
        for window in general.transitions().windows(2) {
            prop_assert_eq!(window[0].to, window[1].from);
        }
    }

    #[test]
    fn nlu_lines_never_panic(line in utterance()) {
        let shop = ShopConfig::default_shop();
        let output = analyze_line(&line, now(), &shop);
        prop_assert!(output.get("input").is_some());
        prop_assert!(output.get("error").is_some() || output.get("state").is_some());
    }
}
