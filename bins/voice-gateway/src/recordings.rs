//! Recording retention (`RECORDING_RETENTION_DAYS`): recordings of calls older than that are
//! deleted from Twilio, and the call's record says when. Runs hourly beside the server.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use twilio::rest::CallsClient;

use crate::app::Clock;

/// Deletes expired recordings.
pub(crate) struct Retention {
    pub(crate) crm: crm::Crm,
    pub(crate) rest: CallsClient,
    pub(crate) keep: chrono::Duration,
    pub(crate) clock: Clock,
}

impl Retention {
    /// Passes every `every` until `shutdown`.
    pub(crate) async fn run(self, every: Duration, shutdown: CancellationToken) {
        loop {
            self.delete_expired().await;
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }

    /// One pass; returns how many recordings were deleted.
    pub(crate) async fn delete_expired(&self) -> usize {
        let now = (self.clock)();
        let expired = match self.crm.recordings_to_delete(now - self.keep, 100).await {
            Ok(expired) => expired,
            Err(err) => {
                warn!(error = %err, "recording retention: the calls cannot be read");
                return 0;
            }
        };
        let mut deleted = 0;
        for recording in expired {
            match self.rest.delete_recording(&recording.recording_sid).await {
                // Already gone (deleted in Twilio's console) counts as deleted.
                Ok(()) => {}
                Err(err) if err.is_not_found() => {}
                Err(err) => {
                    warn!(call_sid = recording.call_sid, error = %err, "recording retention: delete failed; next pass retries");
                    continue;
                }
            }
            if let Err(err) = self.crm.recording_deleted(&recording.call_sid, now).await {
                warn!(call_sid = recording.call_sid, error = %err, "recording retention: deleted but not marked");
                continue;
            }
            deleted += 1;
        }
        if deleted > 0 {
            info!(deleted, "recording retention: old recordings deleted");
            metrics::counter!("voice_recordings_deleted_total").increment(deleted as u64);
        }
        deleted
    }
}
