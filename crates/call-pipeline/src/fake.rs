//! Fakes of the pipeline's ports for tests, replay and the bench (cargo feature `fake`; the
//! release binary does not enable it): a CRM that answers from a script and a call control that
//! records what it was asked. Written once here, so every harness fakes the ports the same way.

use std::{
    collections::VecDeque,
    sync::{Mutex, MutexGuard, PoisonError},
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use conversation::CustomerProfile;
use providers::ToolSpec;
use tokio::sync::watch;
use twilio::CallSid;

use crate::{CallControl, CallCrm, CallRecord, PortError, ToolCallContext, ToolReply};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A CRM that answers from a script: the customers it knows, the tools it offers, and the reply
/// of each tool call in order. It keeps every tool call, call record and opt-out it is given.
///
/// A tool call takes the next scripted reply when that reply is for the same tool; otherwise the
/// tool's standing reply (`reply_always`); otherwise it is refused with code `not_scripted` and
/// noted in `mismatches` (a replay that calls what the capture did not).
#[derive(Debug, Default)]
pub struct ScriptedCrm {
    customers: Vec<CustomerProfile>,
    unavailable: bool,
    tools: Vec<ToolSpec>,
    replies: Mutex<VecDeque<(String, ToolReply)>>,
    standing: Vec<(String, ToolReply)>,
    tool_calls: Mutex<Vec<(String, String)>>,
    mismatches: Mutex<Vec<String>>,
    records: Mutex<Vec<CallRecord>>,
    opt_outs: Mutex<Vec<String>>,
}

impl ScriptedCrm {
    /// A CRM that knows nobody and offers no tools.
    pub fn new() -> Self {
        Self::default()
    }

    /// Knows `customer` (looked up by its phone number).
    pub fn with_customer(mut self, customer: CustomerProfile) -> Self {
        self.customers.push(customer);
        self
    }

    /// The database is down: lookups and opt-outs fail as `Unavailable` (records still land,
    /// so a test can read them).
    pub fn unavailable(mut self) -> Self {
        self.unavailable = true;
        self
    }

    /// Offers these tools to the model.
    pub fn with_tools(mut self, tools: Vec<ToolSpec>) -> Self {
        self.tools = tools;
        self
    }

    /// The next call of `name` (in order with the other queued replies) gets `reply`.
    pub fn reply_next(self, name: &str, reply: ToolReply) -> Self {
        self.queue_reply(name, reply);
        self
    }

    /// Every call of `name` that no queued reply answers gets `reply`.
    pub fn reply_always(mut self, name: &str, reply: ToolReply) -> Self {
        self.standing.push((name.to_owned(), reply));
        self
    }

    /// Queues a reply while the CRM is in use (replay appends what a recording shows).
    pub fn queue_reply(&self, name: &str, reply: ToolReply) {
        lock(&self.replies).push_back((name.to_owned(), reply));
    }

    /// The tool calls made: name and arguments, in order.
    pub fn tool_calls(&self) -> Vec<(String, String)> {
        lock(&self.tool_calls).clone()
    }

    /// Tool calls the script did not expect, described.
    pub fn mismatches(&self) -> Vec<String> {
        lock(&self.mismatches).clone()
    }

    /// The call records written, in order.
    pub fn records(&self) -> Vec<CallRecord> {
        lock(&self.records).clone()
    }

    /// The numbers put on the do-not-call list.
    pub fn opt_outs(&self) -> Vec<String> {
        lock(&self.opt_outs).clone()
    }
}

#[async_trait]
impl CallCrm for ScriptedCrm {
    async fn lookup_customer(&self, phone: &str) -> Result<Option<CustomerProfile>, PortError> {
        if self.unavailable {
            return Err(PortError::unavailable("database unreachable"));
        }
        Ok(self
            .customers
            .iter()
            .find(|customer| customer.phone == phone)
            .cloned())
    }

    fn tools(&self) -> Vec<ToolSpec> {
        self.tools.clone()
    }

    async fn execute_tool(
        &self,
        name: &str,
        arguments: &str,
        _context: &ToolCallContext,
    ) -> ToolReply {
        lock(&self.tool_calls).push((name.to_owned(), arguments.to_owned()));
        let mut replies = lock(&self.replies);
        match replies.front() {
            Some((next, _)) if next == name => return replies.pop_front().expect("front").1,
            Some((next, _)) => {
                let next = next.clone();
                drop(replies);
                lock(&self.mismatches).push(format!(
                    "the pipeline called `{name}` where the script has `{next}`"
                ));
                return ToolReply::refused(
                    "not_scripted",
                    &format!("the script has `{next}` here"),
                );
            }
            None => {}
        }
        drop(replies);
        if let Some((_, reply)) = self.standing.iter().find(|(tool, _)| tool == name) {
            return reply.clone();
        }
        lock(&self.mismatches).push(format!(
            "the pipeline called `{name}` with no scripted reply left"
        ));
        ToolReply::refused("not_scripted", "no scripted reply for this tool")
    }

    async fn record_call(&self, record: &CallRecord) -> Result<(), PortError> {
        lock(&self.records).push(record.clone());
        Ok(())
    }

    async fn ping(&self) -> Result<(), PortError> {
        Ok(())
    }

    async fn opt_out_of_calls(&self, phone: &str, _now: DateTime<Utc>) -> Result<(), PortError> {
        if self.unavailable {
            return Err(PortError::unavailable("database unreachable"));
        }
        lock(&self.opt_outs).push(phone.to_owned());
        Ok(())
    }
}

/// What a `RecordingControl` was asked to do, call by call.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ControlLog {
    /// Calls redirected to the advisor.
    pub transfers: Vec<String>,
    /// Calls hung up.
    pub hang_ups: Vec<String>,
    /// Calls whose recording was asked for.
    pub recordings: Vec<String>,
    /// What the advisor was to hear, per warm transfer.
    pub advisor_briefs: Vec<String>,
    /// Calls whose ringing advisor was let go.
    pub advisor_cancels: Vec<String>,
}

/// A call control that does nothing but note what it is asked, and can be told to transfer, to
/// transfer warm and to record (or fail to).
#[derive(Debug)]
pub struct RecordingControl {
    can_transfer: bool,
    warm: bool,
    /// `Some(works)`: calls are recorded, and starting a recording works or is refused.
    recording: Option<bool>,
    log: Mutex<ControlLog>,
    changes: watch::Sender<u64>,
}

impl Default for RecordingControl {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordingControl {
    /// Transfers straight to the advisor; does not record.
    pub fn new() -> Self {
        Self {
            can_transfer: true,
            warm: false,
            recording: None,
            log: Mutex::default(),
            changes: watch::Sender::new(0),
        }
    }

    /// Whether transfers can be made (when not, a transfer is refused).
    pub fn can_transfer(mut self, can: bool) -> Self {
        self.can_transfer = can;
        self
    }

    /// Transfers warm: the advisor is rung first.
    pub fn warm(mut self, warm: bool) -> Self {
        self.warm = warm;
        self
    }

    /// Records calls; starting a recording `works` or is refused.
    pub fn recording(mut self, recording: Option<bool>) -> Self {
        self.recording = recording;
        self
    }

    /// What it was asked so far.
    pub fn log(&self) -> ControlLog {
        lock(&self.log).clone()
    }

    /// Waits until what it was asked satisfies `condition` (checked now and after each request).
    pub async fn wait_until(&self, condition: impl Fn(&ControlLog) -> bool) {
        let mut changes = self.changes.subscribe();
        while !condition(&self.log()) {
            // The sender lives as long as `self`, so this cannot fail while we borrow it.
            let _ = changes.changed().await;
        }
    }

    fn note(&self, change: impl FnOnce(&mut ControlLog)) {
        change(&mut lock(&self.log));
        self.changes.send_modify(|n| *n += 1);
    }
}

#[async_trait]
impl CallControl for RecordingControl {
    fn can_transfer(&self) -> bool {
        self.can_transfer
    }

    async fn transfer_to_advisor(&self, call_sid: &CallSid) -> Result<(), PortError> {
        if !self.can_transfer {
            return Err(PortError::refused("no advisor number configured"));
        }
        self.note(|log| log.transfers.push(call_sid.as_str().to_owned()));
        Ok(())
    }

    async fn hang_up(&self, call_sid: &CallSid) -> Result<(), PortError> {
        self.note(|log| log.hang_ups.push(call_sid.as_str().to_owned()));
        Ok(())
    }

    fn records_calls(&self) -> bool {
        self.recording.is_some()
    }

    async fn start_recording(&self, call_sid: &CallSid) -> Result<(), PortError> {
        self.note(|log| log.recordings.push(call_sid.as_str().to_owned()));
        match self.recording {
            Some(true) => Ok(()),
            _ => Err(PortError::refused("recording refused")),
        }
    }

    fn warm_transfers(&self) -> bool {
        self.warm
    }

    async fn call_advisor(&self, _call_sid: &CallSid, brief: &str) -> Result<(), PortError> {
        self.note(|log| log.advisor_briefs.push(brief.to_owned()));
        Ok(())
    }

    async fn cancel_advisor_call(&self, call_sid: &CallSid) -> Result<(), PortError> {
        self.note(|log| log.advisor_cancels.push(call_sid.as_str().to_owned()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ToolOutcome;

    fn context() -> ToolCallContext {
        ToolCallContext {
            call_sid: "CA1".into(),
            caller_phone: None,
            customer_id: None,
            now: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[tokio::test]
    async fn scripted_replies_come_in_order_then_the_standing_one_and_strays_are_noted() {
        let ok = ToolReply::from_recorded(json!({"ok": true}));
        let full = ToolReply::from_recorded(json!({"ok": false, "error": {"code": "slot_full"}}));
        let crm = ScriptedCrm::new()
            .reply_next("book_appointment", full.clone())
            .reply_always("book_appointment", ok.clone());
        crm.queue_reply("cancel_appointment", ok.clone());
        let book = crm.execute_tool("book_appointment", "{}", &context()).await;
        assert_eq!(book.outcome, ToolOutcome::SlotTaken);
        // The queue's front is for another tool: refused and noted.
        let stray = crm.execute_tool("book_appointment", "{}", &context()).await;
        assert_eq!(stray.result["error"]["code"], "not_scripted");
        let cancel = crm
            .execute_tool("cancel_appointment", "{}", &context())
            .await;
        assert!(cancel.succeeded());
        // Queue empty: the standing reply.
        assert!(
            crm.execute_tool("book_appointment", "{}", &context())
                .await
                .succeeded()
        );
        let unknown = crm.execute_tool("send_text", "{}", &context()).await;
        assert_eq!(unknown.outcome, ToolOutcome::Refused);
        assert_eq!(crm.tool_calls().len(), 5);
        assert_eq!(
            crm.mismatches(),
            [
                "the pipeline called `book_appointment` where the script has `cancel_appointment`",
                "the pipeline called `send_text` with no scripted reply left",
            ]
        );
    }

    #[tokio::test]
    async fn an_unavailable_crm_fails_lookups_as_retryable() {
        let crm = ScriptedCrm::new().unavailable();
        let err = crm.lookup_customer("+14135550100").await.unwrap_err();
        assert!(err.is_retryable());
        assert!(
            crm.opt_out_of_calls("+14135550100", DateTime::<Utc>::UNIX_EPOCH)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn the_control_notes_requests_and_wakes_a_waiter() {
        let control = std::sync::Arc::new(RecordingControl::new().recording(Some(false)));
        let waiter = tokio::spawn({
            let control = control.clone();
            async move {
                control.wait_until(|log| !log.transfers.is_empty()).await;
            }
        });
        let sid = CallSid::from_wire("CA0123456789abcdef0123456789abcdef");
        assert!(control.start_recording(&sid).await.is_err());
        control.transfer_to_advisor(&sid).await.unwrap();
        waiter.await.unwrap();
        let log = control.log();
        assert_eq!(log.transfers, [sid.as_str()]);
        assert_eq!(log.recordings, [sid.as_str()]);
        let refusing = RecordingControl::new().can_transfer(false);
        assert!(refusing.transfer_to_advisor(&sid).await.is_err());
        assert!(refusing.log().transfers.is_empty());
    }
}
