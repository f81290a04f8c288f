//! Which media streams become calls: the token check, single use, one live stream per call, and
//! the concurrent-call limit, decided before any provider, the CRM or a session is touched.
//!
//! A WebSocket that reaches the stream route holds a *pending* slot (a small, separate cap, and a
//! short start timeout) until its `start` frame arrives; a flood of junk sockets therefore fills
//! only the pending slots, never the call slots real callers need. `StreamAdmission::admit` then:
//! 1. verifies the token (`token.rs`: call, account, parameters, age);
//! 2. checks `start.accountSid` against the configured account;
//! 3. refuses a call SID that already ended here (an `ended_<sid>` mark, kept a day): Twilio's
//!    webhook signatures carry no time, so a captured voice webhook replayed later would
//!    otherwise mint a fresh token for a call that is over;
//! 4. claims the token's nonce (single use, for the token's lifetime) and the call SID (at most one
//!    live stream per call) in the shared session store, so this holds across gateway instances
//!    on one Redis. If that store cannot answer, the stream is refused (fail closed) and the
//!    caller is handed to the advisor, like a caller over capacity;
//! 5. takes a call slot (`MAX_CONCURRENT_CALLS`), counted only for streams that passed 1 to 4.
//!
//! `Admitted::mark_ended` records how a call ended (`ended_<sid>`, holding the status) before its
//! gateway closes the socket, so the `<Connect action>` request that follows knows the end was
//! meant; a stream that was lost instead is left unmarked, so it can be resumed (a *resume*
//! token, the `resume` parameter, is minted only by the gateway's answer to Twilio's signed
//! `<Connect action>` request, which Twilio makes once the previous stream is over; it takes the
//! live claim over from the stream it replaces, whose gateway may have crashed holding it).
//! `Admitted::release` frees the call slot and the live-call claim when the call ends; the nonce
//! claim stays until it expires, so a token is never accepted twice. A call task that panics
//! drops its `Admitted` unreleased: the live claim is then released in the background and the
//! call is not marked ended (a later legitimate stream may resume it).

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use chrono::{DateTime, Utc};
use session_store::{SessionStore, SessionStoreError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::warn;
use twilio::media::Start;

use crate::token::{TokenError, verify_stream_token};

/// Settings of `StreamAdmission`.
#[derive(Debug, Clone)]
pub struct AdmissionConfig {
    /// The account whose streams are accepted (`start.accountSid` must equal it); `None` when the
    /// gateway has no account configured (the token still binds the account the webhook named).
    pub account_sid: Option<String>,
    /// How long after the webhook a stream may present its token.
    pub token_lifetime: Duration,
    /// How long a live-call claim lasts if its gateway dies without releasing it (longer than the
    /// longest call).
    pub live_claim_ttl: Duration,
    /// Calls at once (`MAX_CONCURRENT_CALLS`).
    pub max_calls: usize,
    /// Sockets at once that have not yet presented a valid `start`.
    pub max_pending: usize,
    /// This instance's name in claims (for logs and compare-and-delete).
    pub instance: String,
}

/// Why a stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The token is missing, malformed, forged or expired.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// `start.accountSid` is not the configured account.
    #[error("stream from another account")]
    AccountMismatch,
    /// The token was already used by an earlier stream.
    #[error("stream token already used")]
    Replayed,
    /// Another stream of the same call is live.
    #[error("a stream for this call is already live")]
    AlreadyLive,
    /// Every call slot is taken.
    #[error("at capacity")]
    AtCapacity,
    /// The call already ended on this fleet (a replayed webhook's token).
    #[error("the call already ended")]
    CallEnded,
    /// The shared claim store (Redis) did not answer, so single use cannot be proven.
    #[error("claim store unavailable")]
    ClaimsUnavailable,
}

impl Refusal {
    /// A short snake_case label for metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Token(err) => err.label(),
            Self::AccountMismatch => "account_mismatch",
            Self::Replayed => "token_replayed",
            Self::AlreadyLive => "already_live",
            Self::AtCapacity => "at_capacity",
            Self::CallEnded => "call_ended",
            Self::ClaimsUnavailable => "claims_unavailable",
        }
    }

    /// Whether the stream is a real caller who should be handed to a person rather than hung up
    /// on (the refusal is the gateway's, not the stream's).
    pub fn hands_off(self) -> bool {
        matches!(self, Self::AtCapacity | Self::ClaimsUnavailable)
    }
}

/// The gatekeeper shared by every stream of one gateway.
pub struct StreamAdmission {
    secret: Arc<[u8]>,
    config: AdmissionConfig,
    shared: Arc<dyn SessionStore>,
    calls: Arc<Semaphore>,
    pending: Arc<Semaphore>,
}

impl std::fmt::Debug for StreamAdmission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamAdmission")
            .field("config", &self.config)
            .field("active_calls", &self.active_calls())
            .finish_non_exhaustive()
    }
}

/// A socket's place while it has not yet shown a valid `start`; freed on drop or `free`.
#[derive(Debug, Default)]
pub struct PendingSlot(Mutex<Option<OwnedSemaphorePermit>>);

impl PendingSlot {
    /// Frees the slot (idempotent).
    pub fn free(&self) {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}

/// An admitted call: its call slot and live-call claim, released by `release`.
#[derive(Debug)]
pub struct Admitted {
    _permit: OwnedSemaphorePermit,
    store: Arc<dyn SessionStore>,
    call_sid: String,
    owner: String,
    released: bool,
}

/// How long a call SID stays marked as ended (Twilio's call SIDs are never reused).
const ENDED_MARK_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The stream parameter that makes a token a resume token (value `1`).
pub const RESUME_PARAMETER: &str = "resume";

/// The key of the mark that says a call ended (its value is how: a `CallStatus` name).
pub fn ended_mark_key(call_sid: &str) -> String {
    format!("ended_{call_sid}")
}

/// How many new streams one call may be given after losing one.
pub const MAX_RESUMES: u32 = 2;

/// Whether `start` carries a resume token's `resume=1` (the token signs it).
pub(crate) fn resumes(start: &Start) -> bool {
    start
        .custom_parameters
        .get(RESUME_PARAMETER)
        .is_some_and(|v| v == "1")
}

impl Admitted {
    /// Marks the call ended, holding `how` (a `CallStatus` name). Called before the gateway
    /// closes the socket on purpose; never for a lost stream.
    pub async fn mark_ended(&self, how: &str) {
        if let Err(err) = self
            .store
            .claim(&ended_mark_key(&self.call_sid), how, ENDED_MARK_TTL)
            .await
        {
            warn!(error = %err, "could not mark the call ended");
        }
    }

    /// Frees the live-call claim and the call slot.
    pub async fn release(mut self) {
        self.released = true;
        if let Err(err) = self
            .store
            .release(&format!("live_{}", self.call_sid), &self.owner)
            .await
        {
            warn!(error = %err, "could not release the live-call claim; it expires on its own");
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        // The call task ended without `release` (a panic): free the live claim so the call can
        // be resumed, without marking it ended.
        let store = self.store.clone();
        let key = format!("live_{}", self.call_sid);
        let owner = std::mem::take(&mut self.owner);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = store.release(&key, &owner).await {
                    warn!(error = %err, "could not release the live-call claim of a failed call");
                }
            });
        }
    }
}

impl StreamAdmission {
    /// A gatekeeper verifying tokens with `secret` and claiming in `shared`.
    pub fn new(secret: Arc<[u8]>, config: AdmissionConfig, shared: Arc<dyn SessionStore>) -> Self {
        Self {
            secret,
            calls: Arc::new(Semaphore::new(config.max_calls)),
            pending: Arc::new(Semaphore::new(config.max_pending)),
            config,
            shared,
        }
    }

    /// The secret tokens are signed with (the webhook issues them).
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// The configured token lifetime.
    pub fn token_lifetime(&self) -> Duration {
        self.config.token_lifetime
    }

    /// Calls admitted and not yet released.
    pub fn active_calls(&self) -> usize {
        self.config.max_calls - self.calls.available_permits()
    }

    /// Whether a call slot is free now (the webhook's check; `admit` is the one that counts).
    pub fn has_capacity(&self) -> bool {
        self.calls.available_permits() > 0
    }

    /// Counts one more resume of `call_sid` fleet-wide: `true` while it has had fewer than
    /// `MAX_RESUMES` (a `resumed<n>_<sid>` claim each), `false` after that.
    pub async fn claim_resume(&self, call_sid: &str) -> Result<bool, SessionStoreError> {
        for n in 1..=MAX_RESUMES {
            let key = format!("resumed{n}_{call_sid}");
            if self.shared.claim(&key, "resume", ENDED_MARK_TTL).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A pending slot for a new socket, or `None` when too many sockets are waiting for `start`.
    pub fn try_begin(&self) -> Option<Arc<PendingSlot>> {
        let permit = self.pending.clone().try_acquire_owned().ok()?;
        Some(Arc::new(PendingSlot(Mutex::new(Some(permit)))))
    }

    /// Decides whether the stream that sent `start` becomes a call (see the module docs).
    pub async fn admit(&self, start: &Start, now: DateTime<Utc>) -> Result<Admitted, Refusal> {
        let call_sid = start.call_sid.as_str();
        let claims = verify_stream_token(
            &self.secret,
            call_sid,
            start.account_sid.as_str(),
            &start.custom_parameters,
            now,
            self.config.token_lifetime,
        )?;
        if let Some(account) = &self.config.account_sid
            && account != start.account_sid.as_str()
        {
            return Err(Refusal::AccountMismatch);
        }
        let owner = format!("{}/{}", self.config.instance, claims.nonce);
        let shared = |err: session_store::SessionStoreError| {
            warn!(error = %err, "claim store unavailable: refusing the stream");
            Refusal::ClaimsUnavailable
        };
        if self
            .shared
            .is_claimed(&ended_mark_key(call_sid))
            .await
            .map_err(shared)?
        {
            return Err(Refusal::CallEnded);
        }
        let resumes = resumes(start);
        // The nonce stays claimed a little past the token's lifetime (clock skew).
        let token_ttl = self.config.token_lifetime + Duration::from_secs(60);
        let fresh = self
            .shared
            .claim(&format!("token_{}", claims.nonce), &owner, token_ttl)
            .await
            .map_err(shared)?;
        if !fresh {
            return Err(Refusal::Replayed);
        }
        let live_key = format!("live_{call_sid}");
        let mut live = self
            .shared
            .claim(&live_key, &owner, self.config.live_claim_ttl)
            .await
            .map_err(shared)?;
        if !live && resumes {
            // The stream this one replaces is over (Twilio asked for the next TwiML), but its
            // gateway may have died holding the claim: take it over.
            if let Some(previous) = self.shared.claim_holder(&live_key).await.map_err(shared)? {
                warn!("taking over the live-call claim of the lost stream");
                self.shared
                    .release(&live_key, &previous)
                    .await
                    .map_err(shared)?;
            }
            live = self
                .shared
                .claim(&live_key, &owner, self.config.live_claim_ttl)
                .await
                .map_err(shared)?;
        }
        if !live {
            return Err(Refusal::AlreadyLive);
        }
        let Ok(permit) = self.calls.clone().try_acquire_owned() else {
            if let Err(err) = self.shared.release(&live_key, &owner).await {
                warn!(error = %err, "could not release the live-call claim of a refused stream");
            }
            return Err(Refusal::AtCapacity);
        };
        Ok(Admitted {
            _permit: permit,
            store: self.shared.clone(),
            call_sid: call_sid.to_owned(),
            owner,
            released: false,
        })
    }
}

#[cfg(test)]
mod tests;
