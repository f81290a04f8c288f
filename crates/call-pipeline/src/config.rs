//! Tunables of one call. Every timeout and queue size a call uses lives here, with its default.

use std::sync::Arc;
use std::time::Duration;

/// Audio the caller hears on hold while the advisor's phone rings: 8 kHz μ-law, no header,
/// played in a loop. The default is `assets/hold.ulaw` (made by `assets/make_hold.py`); empty
/// means silence.
#[derive(Clone, PartialEq, Eq)]
pub struct HoldAudio(pub Arc<[u8]>);

impl Default for HoldAudio {
    fn default() -> Self {
        Self(Arc::from(&include_bytes!("../assets/hold.ulaw")[..]))
    }
}

impl std::fmt::Debug for HoldAudio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HoldAudio({} ms)", self.0.len() / 8)
    }
}

/// Which inbound caller IDs are trusted to name a customer (STIR/SHAKEN, Twilio's `StirVerstat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallerIdPolicy {
    /// Any caller ID, unless its signature verification failed (`TN-Validation-Failed…`,
    /// `No-TN-Validation`): the default, since most calls carry no attestation at all.
    #[default]
    RejectFailed,
    /// Only caller IDs with full attestation (`TN-Validation-Passed-A…`).
    AttestedOnly,
    /// Every caller ID (no STIR/SHAKEN check).
    Any,
}

impl CallerIdPolicy {
    /// Whether an inbound caller ID with this `StirVerstat` value may identify a customer.
    pub fn trusts(self, verstat: Option<&str>) -> bool {
        let failed = verstat.is_some_and(|v| {
            v.starts_with("TN-Validation-Failed") || v.starts_with("No-TN-Validation")
        });
        match self {
            Self::Any => true,
            Self::RejectFailed => !failed,
            Self::AttestedOnly => verstat.is_some_and(|v| v.starts_with("TN-Validation-Passed-A")),
        }
    }
}

/// How a call behaves; built by the binary, shared by every call.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// How long to wait for Twilio's `start` after the socket opens before giving up.
    pub start_timeout: Duration,
    /// Budget for the CRM lookup at call start; slower means the general flow.
    pub crm_lookup_timeout: Duration,
    /// Budget for opening the STT and TTS sessions.
    pub provider_connect_timeout: Duration,
    /// No frame at all from Twilio for this long ends the call (Twilio sends audio even in silence).
    pub idle_media_timeout: Duration,
    /// Caller silence (nobody speaking) before the agent checks in once.
    pub silence_check_in: Duration,
    /// Further silence after the check-in before the agent says goodbye and ends the call.
    pub silence_hang_up: Duration,
    /// Budget for one LLM round (request to last token), tool rounds each get their own.
    pub llm_round_timeout: Duration,
    /// With an offline agent (`CallDeps::offline_agent`): an LLM round that has not answered
    /// (text, tool call or finish) this long after the request is given up and the offline
    /// agent answers the turn; so does a round that fails before saying anything. After such a
    /// failure the rest of the call stays with the offline agent.
    pub llm_fallback_after: Duration,
    /// Most LLM rounds one caller turn may take (each tool result costs a round).
    pub max_tool_rounds: usize,
    /// Barge-in pauses the agent the moment the caller's voice starts; when that sound ends
    /// (after the VAD's 300 ms hangover) with no words other than a backchannel, the agent
    /// resumes this much later.
    pub pause_resume_after: Duration,
    /// The longest a barge-in pause waits for words before the agent resumes anyway (continuous
    /// noise with no words, such as an air tool in the shop).
    pub pause_max: Duration,
    /// An utterance whose words stop mid-phrase ("I need an oil change and") waits this long
    /// after the caller's sound ends for the rest before the agent answers it.
    pub unfinished_hold: Duration,
    /// The longest an unfinished utterance is held.
    pub max_unfinished_hold: Duration,
    /// Decide the end of the caller's turn from their words too (`conversation::turn_end`):
    /// complete words and a short pause finalize the recogniser at once, unfinished words are
    /// held for the rest. Off: the recogniser's endpointing alone decides.
    pub turn_end_by_meaning: bool,
    /// Start the LLM request on words that probably end the caller's turn (complete words at a
    /// pause, or the recogniser's eager end of turn) while the final transcript comes, and
    /// speak it only if the final words are the same; otherwise it is thrown away (counted in
    /// `voice_early_replies_total{outcome="dropped"}`).
    pub early_replies: bool,
    /// A reply that has said nothing this long after it started (a slow model, a tool call
    /// running) says `filler_line` first. It is heard, but kept out of history and out of the
    /// voice-to-voice figures, which measure to the reply itself.
    pub filler_after: Duration,
    /// The filler ("One moment."); empty turns fillers off.
    pub filler_line: String,
    /// A mark is sent after this many 20 ms frames (25 = every 500 ms of audio).
    pub mark_every_frames: usize,
    /// Longest wait for the escalation line to finish playing before the transfer goes ahead.
    pub escalation_line_max_wait: Duration,
    /// After the goodbye line, the longest wait for it to play before the call is ended.
    pub goodbye_max_wait: Duration,
    /// Unflushed reply text beyond this many characters is flushed mid-reply.
    pub max_unflushed_chars: usize,
    /// Events from the phone reader and providers waiting for the driver (256 ≈ 5 s of marks and DTMF).
    pub event_queue_len: usize,
    /// Frames waiting for the socket writer (500 frames = 10 s of audio).
    pub outbound_queue_len: usize,
    /// LLM sampling temperature.
    pub temperature: Option<f32>,
    /// Upper bound on tokens per LLM round; phone replies are short.
    pub max_tokens: Option<u32>,
    /// Spoken when the LLM fails or times out; the agent then keeps listening.
    pub fallback_line: String,
    /// Spoken before a transfer to the advisor.
    pub escalation_line: String,
    /// Said before the greeting when the call is recorded (`CallControl::records_calls`).
    pub recording_disclosure: String,
    /// Spoken before a warm transfer, before the hold audio (`CallControl::warm_transfers`).
    pub warm_transfer_line: String,
    /// Played while the advisor's phone rings in a warm transfer.
    pub hold_audio: HoldAudio,
    /// The longest a caller holds for the advisor before the agent takes a message instead.
    pub advisor_max_wait: Duration,
    /// Whether escalations outside the shop's opening hours still ring the advisor; by default
    /// the agent says the shop is closed and takes a message.
    pub transfer_after_hours: bool,
    /// Opens message taking when no transfer can be made (no Twilio credentials or advisor
    /// number, or the transfer failed).
    pub no_transfer_line: String,
    /// Opens message taking when the advisor did not take the call.
    pub advisor_unavailable_line: String,
    /// Opens message taking when the advisor accepted but the caller's call could not be moved.
    pub bridge_failed_line: String,
    /// Opens message taking outside opening hours.
    pub after_hours_line: String,
    /// Ends the message-taking goodbye: "…, and {this}. Goodbye."
    pub message_closing: String,
    /// An outbound call placed with answering-machine detection waits this long for the verdict
    /// before greeting (Twilio's own detection gives up after 30 s).
    pub amd_max_wait: Duration,
    /// Longest wait for a voicemail message to play before the call is ended.
    pub voicemail_max_wait: Duration,
    /// Said when a caller who asked not to be called again is on the do-not-call list.
    pub do_not_call_line: String,
    /// Said when that list could not be written.
    pub do_not_call_failed_line: String,
    /// Spoken once after `silence_check_in`.
    pub check_in_line: String,
    /// Spoken before the call ends after continued silence.
    pub silence_goodbye_line: String,
    /// Spoken when speech recognition is lost for good mid-call.
    pub stt_lost_line: String,
    /// Tool calls the model may make in one round; more are answered with an error, unrun.
    pub max_tool_calls_per_round: usize,
    /// New appointments one call may book; more are answered with an error, unrun.
    pub max_bookings_per_call: u32,
    /// The longest call: the agent then says `max_length_line` and ends it.
    pub max_call_duration: Duration,
    /// The most caller turns in one call: the next one gets `max_length_line`.
    pub max_turns: u32,
    /// Most history messages sent to the LLM besides the system prompt (the newest ones; the
    /// manager's summary in the prompt carries what came before), so a long call's cost per turn
    /// stays bounded.
    pub max_context_messages: usize,
    /// Spoken when the call reaches `max_call_duration` or `max_turns`.
    pub max_length_line: String,
    /// Spoken to a call still running when the server's drain time is over, before the transfer.
    pub shutdown_transfer_line: String,
    /// The same when no transfer is possible, before the call ends.
    pub shutdown_goodbye_line: String,
    /// Longest wait for either shutdown line to play.
    pub shutdown_line_max_wait: Duration,
    /// Which inbound caller IDs may identify a customer; an untrusted one is treated as withheld
    /// (general flow, tools cannot act for anyone).
    pub caller_id_policy: CallerIdPolicy,
    /// Log what callers and the agent say, customer names and DTMF digits at `info`
    /// (`LOG_TRANSCRIPTS`); off by default, since they are personal data.
    pub log_transcripts: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            start_timeout: Duration::from_secs(5),
            crm_lookup_timeout: Duration::from_millis(800),
            provider_connect_timeout: Duration::from_secs(3),
            idle_media_timeout: Duration::from_secs(15),
            silence_check_in: Duration::from_secs(10),
            silence_hang_up: Duration::from_secs(10),
            llm_round_timeout: Duration::from_secs(15),
            llm_fallback_after: Duration::from_millis(2500),
            max_tool_rounds: 4,
            pause_resume_after: Duration::from_millis(150),
            pause_max: Duration::from_millis(2000),
            unfinished_hold: Duration::from_millis(700),
            max_unfinished_hold: Duration::from_millis(2500),
            turn_end_by_meaning: true,
            early_replies: true,
            filler_after: Duration::from_millis(700),
            filler_line: "One moment.".to_owned(),
            mark_every_frames: 25,
            escalation_line_max_wait: Duration::from_secs(8),
            goodbye_max_wait: Duration::from_secs(6),
            max_unflushed_chars: 200,
            event_queue_len: 256,
            outbound_queue_len: 500,
            temperature: Some(0.4),
            max_tokens: Some(300),
            fallback_line: "Sorry, I'm having a little trouble on my end. Could you say that again?".to_owned(),
            recording_disclosure: "This call is recorded for quality.".to_owned(),
            escalation_line: "I understand this needs more attention. Let me connect you with our service advisor."
                .to_owned(),
            warm_transfer_line: "I understand this needs more attention. Let me get our service advisor \
                for you. Please hold for a moment."
                .to_owned(),
            hold_audio: HoldAudio::default(),
            advisor_max_wait: Duration::from_secs(45),
            transfer_after_hours: false,
            no_transfer_line: "I understand. Our service advisor can't take the call right now.".to_owned(),
            advisor_unavailable_line: "I'm sorry, our service advisor can't come to the phone right now."
                .to_owned(),
            bridge_failed_line: "I'm sorry, I couldn't put you through to our service advisor."
                .to_owned(),
            after_hours_line: "I understand. The shop is closed right now, so no advisor can take the call."
                .to_owned(),
            message_closing: "someone from the shop will call you back as soon as they can".to_owned(),
            amd_max_wait: Duration::from_secs(35),
            voicemail_max_wait: Duration::from_secs(30),
            do_not_call_line: "I understand. I've taken your number off our call list, so we won't \
                call you again. Sorry for the trouble."
                .to_owned(),
            do_not_call_failed_line: "I'm sorry, I couldn't update our call list just now. Please \
                ask the shop to take your number off it."
                .to_owned(),
            check_in_line: "Are you still there?".to_owned(),
            silence_goodbye_line: "It sounds like we got disconnected. Feel free to call us back anytime. Goodbye!"
                .to_owned(),
            stt_lost_line: "I'm sorry, I'm having trouble hearing you. Let me get someone to help.".to_owned(),
            log_transcripts: false,
            caller_id_policy: CallerIdPolicy::default(),
            shutdown_transfer_line: "I'm going to connect you with our service advisor now.".to_owned(),
            shutdown_goodbye_line: "I'm sorry, I have to end our call now. Please call us back in a \
                minute. Goodbye!"
                .to_owned(),
            shutdown_line_max_wait: Duration::from_secs(3),
            max_tool_calls_per_round: 4,
            max_bookings_per_call: 2,
            max_call_duration: Duration::from_secs(30 * 60),
            max_turns: 100,
            max_context_messages: 24,
            max_length_line: "I'm sorry, we've reached the limit of what I can do on this call. \
                Please call back anytime, or ask for our service advisor. Goodbye!"
                .to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CallerIdPolicy;

    #[test]
    fn caller_id_policies_read_stir_verstat_by_prefix() {
        let cases = [
            None,
            Some("TN-Validation-Passed-A"),
            Some("TN-Validation-Passed-B-Diverted"),
            Some("TN-Validation-Failed-A"),
            Some("TN-Validation-Failed"),
            Some("No-TN-Validation"),
        ];
        let table: Vec<String> = [
            CallerIdPolicy::Any,
            CallerIdPolicy::RejectFailed,
            CallerIdPolicy::AttestedOnly,
        ]
        .iter()
        .map(|policy| {
            cases
                .iter()
                .map(|v| if policy.trusts(*v) { '1' } else { '0' })
                .collect()
        })
        .collect();
        assert_eq!(table, ["111111", "111000", "010000"]);
    }
}
