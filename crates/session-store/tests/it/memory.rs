//! The behaviour suite against `MemorySessionStore`, under tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use session_store::{MemorySessionStore, SessionStore, SessionStoreConfig};

use crate::behaviour::{self, Fixture, behaviour_suite};

struct MemoryFixture;

impl Fixture for MemoryFixture {
    async fn open(&self, config: SessionStoreConfig) -> Arc<dyn SessionStore> {
        Arc::new(MemorySessionStore::new(&config).unwrap())
    }

    async fn elapse(&self, duration: Duration) {
        tokio::time::advance(duration).await;
    }
}

macro_rules! memory_case {
    ($case:ident) => {
        #[tokio::test(start_paused = true)]
        async fn $case() {
            behaviour::$case(&MemoryFixture).await;
        }
    };
}

behaviour_suite!(memory_case);

#[tokio::test]
async fn connect_without_url_is_in_memory() {
    let store = session_store::connect(None, SessionStoreConfig::default())
        .await
        .unwrap();
    assert!(
        format!("{store:?}").starts_with("MemorySessionStore"),
        "{store:?}"
    );
}
