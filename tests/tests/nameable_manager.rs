//! One nameable manager (issue 12, issue 22 item 9): user code takes `&ClusterManager`, with no
//! type parameter, whichever crate it imports the name from, and gets managers from the fake
//! cluster, from clustermanager-tokio and from clustermanager-async-std (whose `connect` return
//! that one type; `connect_typed` keeps the transport's); the typed escape-hatch handles use the
//! manager's own context.

use std::sync::Arc;

use clustermanager_core::k8s::api::{DeleteParams, ListParams, Patch, Resource, WatchParams, WriteParams};
use clustermanager_core::k8s::watch::WatchEvent;
use clustermanager_core::nomad::api::QueryOptions;
use clustermanager_core::{ClusterManager, Config, Error, Result, RetryPolicy};
use clustermanager_fake::{block_on, FakeCluster, FakeOptions, FakeTransport, KubernetesVersion};
use clustermanager_tests::server::{Reply, Server};

/// User code: no generics.
async fn report(cm: &ClusterManager) -> Result<Vec<String>> {
    Ok(cm.get_nodes().await?.into_iter().map(|n| n.name).collect())
}

/// A struct field naming the manager.
struct App {
    cm: ClusterManager,
}

fn assert_shareable<T: Clone + Send + Sync + 'static>(_: &T) {}

#[test]
fn the_fake_clusters_managers_erase_to_one_type() {
    for fake in [
        FakeCluster::kubernetes_with(FakeOptions::on(KubernetesVersion::V1_19)),
        FakeCluster::kubernetes(),
        FakeCluster::nomad(),
    ] {
        let cm = block_on(fake.cluster_manager()).unwrap().erase();
        assert_shareable(&cm);
        let app = App { cm: cm.clone() };
        let nodes = block_on(report(&app.cm)).unwrap();
        assert!(!nodes.is_empty(), "{nodes:?}");
        // the transport inside is still reachable, and erasing again does not box again
        assert!(cm.transport().downcast_ref::<FakeTransport>().is_some());
        let again = cm.clone().erase();
        assert!(again.transport().downcast_ref::<FakeTransport>().is_some());
    }
}

fn nodes_server() -> Server {
    let body = r#"{"kind":"NodeList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[{"metadata":{"name":"n1"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}]}"#;
    Server::start(None, Arc::new(move |_| Reply::Full(200, body.to_owned())))
}

/// User code importing the name from a transport crate: the same type as core's.
async fn report_tokio(cm: &clustermanager_tokio::ClusterManager) -> Result<Vec<String>> {
    report(cm).await
}

/// And from the other transport crate.
async fn report_async_std(cm: &clustermanager_async_std::ClusterManager) -> Result<Vec<String>> {
    report(cm).await
}

#[test]
fn the_tokio_connect_returns_the_one_manager_type() {
    let server = nodes_server();
    let config = Config::kubernetes(&server.http_url()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let nodes = rt.block_on(async {
        let cm: ClusterManager = clustermanager_tokio::connect(&config).await?;
        assert!(cm.transport().downcast_ref::<clustermanager_tokio::TokioTransport>().is_some());
        assert_eq!(report_async_std(&cm).await?, ["n1"]);
        report_tokio(&cm).await
    });
    assert_eq!(nodes.unwrap(), ["n1"]);
}

#[test]
fn the_async_std_connect_returns_the_one_manager_type() {
    let server = nodes_server();
    let config = Config::kubernetes(&server.http_url()).unwrap();
    let nodes = async_std::task::block_on(async {
        let cm: ClusterManager = clustermanager_async_std::connect(&config).await?;
        assert!(cm.transport().downcast_ref::<clustermanager_async_std::AsyncStdTransport>().is_some());
        assert_eq!(report_tokio(&cm).await?, ["n1"]);
        report_async_std(&cm).await
    });
    assert_eq!(nodes.unwrap(), ["n1"]);
}

#[test]
fn connect_typed_keeps_the_transport_and_its_budgets_and_erases_to_the_one_type() {
    use clustermanager_async_std::AsyncStdTransport;
    use clustermanager_tokio::TokioTransport;
    let server = nodes_server();
    let config = Config::kubernetes(&server.http_url()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let tokio_cm: ClusterManager<TokioTransport> = rt.block_on(clustermanager_tokio::connect_typed(&config)).unwrap();
    assert_eq!(rt.block_on(report(&tokio_cm.clone().erase())).unwrap(), ["n1"]);
    let transport: &TokioTransport = tokio_cm.transport();
    assert_eq!((transport.budget().in_use(), transport.budget().peak()), (0, 1));
    assert_eq!(transport.connections().peak(), 1);
    let async_cm: clustermanager_async_std::ClusterManager<AsyncStdTransport> =
        async_std::task::block_on(clustermanager_async_std::connect_typed(&config)).unwrap();
    assert_eq!(async_std::task::block_on(report(&async_cm.clone().erase())).unwrap(), ["n1"]);
    assert_eq!((async_cm.transport().budget().in_use(), async_cm.transport().budget().peak()), (0, 1));
}

#[test]
fn kubernetes_handle_lists_creates_patches_and_deletes_in_one_line_each() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let cm = block_on(fake.cluster_manager()).unwrap().erase();
        block_on(async {
            cm.create_namespace("web").await?;
            let maps = cm.kubernetes()?.api::<serde_json::Value>(Resource::CONFIGMAPS).namespaced("web");
            let map = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"v": "1"}});
            let created = maps.create(&map, &WriteParams::default()).await?;
            assert_eq!(created["data"]["v"], "1");
            assert!(maps.get_opt("missing").await?.is_none());
            let patch = Patch::merge(&serde_json::json!({"data": {"v": "2"}}))?;
            let patched = maps.patch("cfg", &patch, &WriteParams::default()).await?;
            assert_eq!(patched["data"]["v"], "2");
            let mut replaced = maps.get("cfg").await?;
            replaced["data"]["v"] = "3".into();
            maps.replace("cfg", &replaced, &WriteParams::default()).await?;
            let list = maps.list(&ListParams::default()).await?;
            assert_eq!(list.items.len(), 1);
            assert_eq!(list.items[0]["data"]["v"], "3");
            let all = maps.clone().all().list_all(&ListParams::default().limit(1)).await?;
            assert_eq!(all.items.len(), 1);
            let mut events = maps.watch(&WatchParams { timeout_seconds: Some(1), ..WatchParams::default() });
            let Some(Ok(WatchEvent::Added(seen))) = events.next().await else { panic!("no ADDED event") };
            assert_eq!(seen["metadata"]["name"], "cfg");
            drop(events);
            maps.delete("cfg", &DeleteParams::default()).await?;
            assert!(maps.get_opt("cfg").await?.is_none());
            assert!(matches!(cm.nomad(), Err(Error::Unsupported { .. })));
            Ok::<_, Error>(())
        })
        .unwrap();
    }
}

#[test]
fn handles_carry_the_managers_retry_policy() {
    for version in KubernetesVersion::ALL {
        let fake = FakeCluster::kubernetes_with(FakeOptions::on(version));
        let policy = RetryPolicy { max_attempts: 7, ..RetryPolicy::default() };
        let config = fake.config().with_retry(policy.clone());
        let cm = block_on(ClusterManager::connect(fake.transport(), &config, 1)).unwrap();
        let handle = cm.kubernetes().unwrap();
        assert_eq!(handle.context().retry.policy, policy);
        assert_ne!(handle.context().retry.policy, clustermanager_core::k8s::Context::default().retry.policy);
    }
}

#[test]
fn nomad_handle_reads_with_query_options() {
    let fake = FakeCluster::nomad();
    let cm = block_on(fake.cluster_manager()).unwrap().erase();
    block_on(async {
        let nomad = cm.nomad()?;
        let (nodes, meta) = nomad.get::<Vec<serde_json::Value>>("/v1/nodes", &QueryOptions::default()).await?;
        assert!(!nodes.is_empty());
        assert!(meta.index.is_some());
        let (jobs, _) = nomad.list_all::<serde_json::Value>("jobs", &QueryOptions::default()).await?;
        assert!(jobs.is_empty());
        assert!(matches!(cm.kubernetes(), Err(Error::Unsupported { .. })));
        Ok::<_, Error>(())
    })
    .unwrap();
}
