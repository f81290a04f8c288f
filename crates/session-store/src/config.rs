//! `SessionStoreConfig`: tunables for both backends.

use std::num::NonZeroUsize;
use std::time::Duration;

use crate::SessionStoreError;

/// Tunables for the session store. `Default` gives production values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionStoreConfig {
    /// Prefix of every Redis key: a call's hash is `{key_prefix}{<call_sid>}` (braces included:
    /// a Redis Cluster hash tag), its claims `{key_prefix}claim:<what>_{<call_sid>}`, and the
    /// active-call index (a sorted set scored by expiry time) is `{key_prefix}index:active`. Call
    /// SIDs cannot contain `:` or braces, so these never collide. Default `voice:session:`.
    pub key_prefix: String,
    /// How long a session lives after its latest write; every write refreshes it. Default 24 h.
    pub ttl: Duration,
    /// Upper bound on each Redis command, so a slow or dead Redis never stalls a call. Default
    /// 250 ms.
    pub op_timeout: Duration,
    /// How many calls the outage buffer holds while Redis is down (each keeps only its newest
    /// merged state). When full, writes for further calls fail with `BufferFull`. Default 10 000.
    pub max_buffered_calls: NonZeroUsize,
    /// Number of Redis connections. A call always uses the same one, which keeps its writes in
    /// order. Default 4.
    pub pool_size: NonZeroUsize,
    /// First delay before reconnecting to Redis; it doubles per failed attempt. Default 100 ms.
    pub reconnect_min_delay: Duration,
    /// Longest delay between reconnection attempts. Default 2 s.
    pub reconnect_max_delay: Duration,
    /// How often the background flusher retries while Redis is down. Default 500 ms.
    pub flush_retry_interval: Duration,
    /// How long `connect` waits for the first connection at startup. Default 5 s.
    pub connect_timeout: Duration,
}

impl Default for SessionStoreConfig {
    fn default() -> Self {
        Self {
            key_prefix: "voice:session:".to_owned(),
            ttl: Duration::from_secs(24 * 60 * 60),
            op_timeout: Duration::from_millis(250),
            max_buffered_calls: NonZeroUsize::new(10_000).unwrap_or(NonZeroUsize::MIN),
            pool_size: NonZeroUsize::new(4).unwrap_or(NonZeroUsize::MIN),
            reconnect_min_delay: Duration::from_millis(100),
            reconnect_max_delay: Duration::from_secs(2),
            flush_retry_interval: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl SessionStoreConfig {
    /// Checks the values that the types cannot: non-zero durations that fit Redis' millisecond
    /// arguments, and a usable key prefix.
    pub fn validate(&self) -> Result<(), SessionStoreError> {
        let reason = if self.key_prefix.is_empty() {
            "key_prefix is empty"
        } else if self.ttl < Duration::from_millis(1) {
            "ttl is under 1 ms"
        } else if self.ttl > Duration::from_secs(365 * 24 * 60 * 60) {
            "ttl is over a year"
        } else if self.op_timeout.is_zero() {
            "op_timeout is zero"
        } else if self.flush_retry_interval.is_zero() {
            "flush_retry_interval is zero"
        } else if self.connect_timeout.is_zero() {
            "connect_timeout is zero"
        } else if self.reconnect_min_delay > self.reconnect_max_delay {
            "reconnect_min_delay is above reconnect_max_delay"
        } else if self.reconnect_max_delay > Duration::from_secs(60 * 60) {
            "reconnect_max_delay is over an hour"
        } else {
            return Ok(());
        };
        Err(SessionStoreError::InvalidConfig { reason })
    }

    /// TTL in whole milliseconds (at least 1), as Redis' `PEXPIRE` takes it.
    #[cfg(feature = "redis")]
    pub(crate) fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        SessionStoreConfig::default().validate().unwrap();
    }

    #[test]
    fn invalid_values_are_rejected() {
        let cases: Vec<(&str, SessionStoreConfig)> = vec![
            (
                "key_prefix is empty",
                SessionStoreConfig {
                    key_prefix: String::new(),
                    ..Default::default()
                },
            ),
            (
                "ttl is under 1 ms",
                SessionStoreConfig {
                    ttl: Duration::from_micros(10),
                    ..Default::default()
                },
            ),
            (
                "op_timeout is zero",
                SessionStoreConfig {
                    op_timeout: Duration::ZERO,
                    ..Default::default()
                },
            ),
            (
                "reconnect_min_delay is above reconnect_max_delay",
                SessionStoreConfig {
                    reconnect_min_delay: Duration::from_secs(3),
                    ..Default::default()
                },
            ),
        ];
        for (want, config) in cases {
            match config.validate() {
                Err(SessionStoreError::InvalidConfig { reason }) => assert_eq!(reason, want),
                other => panic!("{want}: got {other:?}"),
            }
        }
    }
}
