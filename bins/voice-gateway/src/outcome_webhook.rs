//! The end-of-call webhook (`OUTCOME_WEBHOOK_URL`): every finished call is POSTed there as JSON
//! (`crm::outcomes::OutcomeReport`), signed, retried with backoff, at least once.
//!
//! The queue is the database (`outcome_deliveries`, written with each call's final record), so
//! a delivery survives restarts like the record does, and any instance may send it: each takes
//! due rows, claims one for a lease, sends it, and marks it delivered or schedules the retry.
//!
//! Each request carries `Idempotency-Key: {call_sid}` (a receiver that gets a call twice treats
//! it as one) and `X-Voice-Gateway-Signature: t={unix seconds},v1={hex HMAC-SHA256 of
//! "{t}.{body}" keyed by OUTCOME_WEBHOOK_SECRET}`; a receiver recomputes it and rejects old `t`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::app::Clock;

/// How the worker paces itself; the defaults suit production, tests shorten them.
#[derive(Debug, Clone)]
pub(crate) struct WebhookTiming {
    /// How often the queue is looked at.
    pub(crate) poll_every: Duration,
    /// The first retry's delay; each further one doubles, up to `max_backoff`.
    pub(crate) first_backoff: Duration,
    pub(crate) max_backoff: Duration,
    /// Attempts before a delivery is given up (about a day with the defaults).
    pub(crate) max_attempts: u32,
    /// One request's timeout.
    pub(crate) request_timeout: Duration,
}

impl Default for WebhookTiming {
    fn default() -> Self {
        Self {
            poll_every: Duration::from_secs(2),
            first_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(3600),
            max_attempts: 30,
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Sends queued outcomes to the shop's endpoint.
pub(crate) struct OutcomeWebhook {
    pub(crate) crm: crm::Crm,
    pub(crate) url: url::Url,
    pub(crate) secret: String,
    pub(crate) clock: Clock,
    pub(crate) timing: WebhookTiming,
    http: reqwest::Client,
}

/// The signature header's value for `body` sent at `at`.
pub(crate) fn signature(secret: &str, at: DateTime<Utc>, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    let t = at.timestamp();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

impl OutcomeWebhook {
    pub(crate) fn new(
        crm: crm::Crm,
        url: url::Url,
        secret: String,
        clock: Clock,
        timing: WebhookTiming,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(timing.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            crm,
            url,
            secret,
            clock,
            timing,
            http,
        })
    }

    /// Delivers until `shutdown`.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        info!(
            host = self.url.host_str().unwrap_or(""),
            "end-of-call webhook on"
        );
        loop {
            self.deliver_due().await;
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.timing.poll_every) => {}
            }
        }
    }

    /// One pass over the due deliveries; returns how many were delivered.
    pub(crate) async fn deliver_due(&self) -> usize {
        let now = (self.clock)();
        let due = match self.crm.due_outcomes(now, 50).await {
            Ok(due) => due,
            Err(err) => {
                warn!(error = %err, "outcome webhook: the queue cannot be read; trying later");
                return 0;
            }
        };
        let mut delivered = 0;
        for call_sid in due {
            let lease = chrono::Duration::from_std(self.timing.request_timeout * 3)
                .unwrap_or(chrono::Duration::seconds(30));
            match self
                .crm
                .claim_outcome(&call_sid, (self.clock)(), lease)
                .await
            {
                Ok(true) => {}
                Ok(false) => continue,
                Err(err) => {
                    warn!(call_sid, error = %err, "outcome webhook: claim failed");
                    continue;
                }
            }
            if self.deliver(&call_sid).await {
                delivered += 1;
            }
        }
        delivered
    }

    async fn deliver(&self, call_sid: &str) -> bool {
        let report = match self.crm.outcome_report(call_sid).await {
            Ok(Some(report)) => report,
            Ok(None) => {
                self.failed(call_sid, "the call has no record", None).await;
                return false;
            }
            Err(err) => {
                self.retry_later(call_sid, &format!("reading the record: {err}"))
                    .await;
                return false;
            }
        };
        let body = match serde_json::to_vec(&report) {
            Ok(body) => body,
            Err(err) => {
                self.failed(call_sid, &format!("encoding: {err}"), None)
                    .await;
                return false;
            }
        };
        let sent_at = (self.clock)();
        let result = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", call_sid)
            .header(
                "X-Voice-Gateway-Signature",
                signature(&self.secret, sent_at, &body),
            )
            .body(body)
            .send()
            .await;
        match result {
            Ok(response) if response.status().is_success() => {
                if let Err(err) = self.crm.outcome_delivered(call_sid, (self.clock)()).await {
                    // It was sent; a later pass sends it again, which the key makes harmless.
                    warn!(call_sid, error = %err, "outcome webhook: delivered but not marked");
                }
                info!(call_sid, outcome = ?report.outcome, "end-of-call webhook delivered");
                metrics::counter!("voice_outcome_webhooks_total", "result" => "delivered")
                    .increment(1);
                true
            }
            Ok(response) => {
                self.retry_later(call_sid, &format!("HTTP {}", response.status()))
                    .await;
                false
            }
            Err(err) => {
                self.retry_later(call_sid, &without_url(&err)).await;
                false
            }
        }
    }

    async fn retry_later(&self, call_sid: &str, error: &str) {
        let attempts = match self.crm.outcome_delivery(call_sid).await {
            Ok(Some(delivery)) => delivery.attempts + 1,
            _ => 1,
        };
        if attempts >= self.timing.max_attempts {
            error!(call_sid, attempts, error, "outcome webhook: giving up");
            self.failed(call_sid, error, None).await;
            return;
        }
        let backoff = self
            .timing
            .first_backoff
            .saturating_mul(2u32.saturating_pow(attempts - 1))
            .min(self.timing.max_backoff);
        let at = (self.clock)() + chrono::Duration::from_std(backoff).unwrap_or_default();
        warn!(
            call_sid,
            attempts,
            error,
            retry_in_s = backoff.as_secs(),
            "outcome webhook: will retry"
        );
        metrics::counter!("voice_outcome_webhooks_total", "result" => "retry").increment(1);
        self.failed(call_sid, error, Some(at)).await;
    }

    async fn failed(&self, call_sid: &str, error: &str, retry_at: Option<DateTime<Utc>>) {
        if retry_at.is_none() {
            metrics::counter!("voice_outcome_webhooks_total", "result" => "given_up").increment(1);
        }
        if let Err(err) = self
            .crm
            .outcome_attempt_failed(call_sid, error, retry_at, (self.clock)())
            .await
        {
            warn!(call_sid, error = %err, "outcome webhook: attempt not recorded");
        }
    }
}

/// A transport error without the URL (it may hold a token in its query).
fn without_url(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    kind.to_owned()
}

#[cfg(test)]
pub(crate) mod tests;
