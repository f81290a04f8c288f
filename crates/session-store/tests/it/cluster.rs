//! The behaviour suite against `RedisSessionStore` on a Redis Cluster of three masters that the
//! test starts itself (`redis-server --cluster-enabled yes` three times, then
//! `redis-cli --cluster create`), through a `redis-cluster://` URL: every write, read and claim
//! must work when the call's keys and the active index live on different nodes. Skipped, saying
//! why, when `redis-server` is not installed; fails instead when `CI` is set.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use session_store::{SessionStore, SessionStoreConfig};

use crate::behaviour::{self, Fixture, behaviour_suite};
use crate::redis::{open_test_store, unique_prefix};
use crate::redis_server::{RedisServer, free_port};

/// How long the new cluster may take to agree on its slots (a hang guard).
const CLUSTER_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Three masters sharing the 16384 slots; killed when dropped.
struct Cluster {
    servers: Vec<RedisServer>,
    _dir: tempfile::TempDir,
}

/// `redis-cli` without the test runner's libfaketime, which it would not survive either.
fn redis_cli(args: &[&str]) -> std::process::Output {
    Command::new("redis-cli")
        .env_remove("LD_PRELOAD")
        .args(args)
        .output()
        .expect("redis-cli runs (it comes with redis-server)")
}

/// A port whose cluster bus port (port + 10000) is also free.
fn cluster_port() -> u16 {
    loop {
        let port = free_port();
        if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

impl Cluster {
    fn start() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mut servers = Vec::new();
        for _ in 0..3 {
            let port = cluster_port();
            let nodes_file = dir.path().join(format!("nodes-{port}.conf"));
            let server = RedisServer::start_with(
                port,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    nodes_file.to_str().unwrap(),
                    "--cluster-node-timeout",
                    "5000",
                    "--dir",
                    dir.path().to_str().unwrap(),
                ],
            )?;
            servers.push(server);
        }
        let addresses: Vec<String> = servers
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port()))
            .collect();
        let mut create = vec!["--cluster", "create"];
        create.extend(addresses.iter().map(String::as_str));
        create.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let created = redis_cli(&create);
        assert!(
            created.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        let cluster = Self { servers, _dir: dir };
        let deadline = std::time::Instant::now() + CLUSTER_READY_TIMEOUT;
        while !cluster.ready() {
            assert!(
                std::time::Instant::now() < deadline,
                "the cluster did not reach cluster_state:ok"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(cluster)
    }

    /// Every node says the cluster is ok.
    fn ready(&self) -> bool {
        self.servers.iter().all(|server| {
            let info = redis_cli(&["-p", &server.port().to_string(), "cluster", "info"]);
            String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok")
        })
    }

    /// `redis-cluster://` URL naming every node.
    fn url(&self) -> String {
        let ports: Vec<u16> = self.servers.iter().map(RedisServer::port).collect();
        format!(
            "redis-cluster://127.0.0.1:{}?node=127.0.0.1:{}&node=127.0.0.1:{}",
            ports[0], ports[1], ports[2]
        )
    }

    /// The slot of `key`, as the cluster computes it.
    fn slot(&self, key: &str) -> String {
        let port = self.servers[0].port().to_string();
        let out = redis_cli(&["-p", &port, "cluster", "keyslot", key]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// How many keys each node holds.
    fn keys_per_node(&self) -> Vec<usize> {
        self.servers
            .iter()
            .map(|server| {
                let out = redis_cli(&["-p", &server.port().to_string(), "dbsize"]);
                String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
            })
            .collect()
    }
}

struct ClusterFixture<'a> {
    cluster: &'a Cluster,
    prefix: String,
    stores: Mutex<Vec<Arc<dyn SessionStore>>>,
}

impl<'a> ClusterFixture<'a> {
    fn new(cluster: &'a Cluster, case: &str) -> Self {
        Self {
            cluster,
            prefix: unique_prefix(case),
            stores: Mutex::new(Vec::new()),
        }
    }

    async fn shut_down(self) {
        let stores = std::mem::take(&mut *self.stores.lock().unwrap());
        for store in stores {
            store.shutdown().await.unwrap();
        }
    }
}

impl Fixture for ClusterFixture<'_> {
    async fn open(&self, config: SessionStoreConfig) -> Arc<dyn SessionStore> {
        let store = open_test_store(&self.cluster.url(), &self.prefix, config).await;
        self.stores.lock().unwrap().push(Arc::clone(&store));
        store
    }

    /// Real time: expiry runs on the nodes' clocks.
    async fn elapse(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_behaviour_suite_passes_on_a_three_master_cluster() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    macro_rules! cluster_case {
        ($case:ident) => {{
            let fx = ClusterFixture::new(&cluster, stringify!($case));
            behaviour::$case(&fx).await;
            fx.shut_down().await;
        }};
    }
    behaviour_suite!(cluster_case);

    // One call's keys share a slot; calls spread over the nodes.
    let fx = ClusterFixture::new(&cluster, "layout");
    let store = fx.open_default().await;
    for n in 0..30 {
        let sid = format!("CA{n:032}");
        store
            .set_session(
                &sid,
                crate::obj(serde_json::json!({"status": "in_progress"})),
            )
            .await
            .unwrap();
        assert!(
            store
                .claim(&format!("live_{sid}"), "gw", Duration::from_secs(60))
                .await
                .unwrap()
        );
    }
    let prefix = &fx.prefix;
    let sid = format!("CA{:032}", 7);
    let session_slot = cluster.slot(&format!("{prefix}{{{sid}}}"));
    for claim in ["live", "ended", "resumed1"] {
        assert_eq!(
            cluster.slot(&format!("{prefix}claim:{claim}_{{{sid}}}")),
            session_slot,
            "{claim}"
        );
    }
    assert_eq!(store.list_active().await.unwrap().len(), 30);
    let per_node = cluster.keys_per_node();
    assert!(
        per_node.iter().filter(|&&keys| keys > 0).count() >= 2,
        "keys on one node only: {per_node:?}"
    );
    fx.shut_down().await;
}
