//! The long-running workloads: `deploy` (create a Deployment, Nomad: a service job, and wait until
//! it is available) and `scale`.

use std::sync::Arc;

use clustermanager_core::{Error, ServiceSpec, WaitOptions, WorkloadKind};

use crate::args::{DeployArgs, ScaleArgs};
use crate::cluster::Session;
use crate::exit::{self, Failure};
use crate::show::document;
use crate::ui::Ui;
use crate::view::WorkloadView;

/// `deploy`.
pub async fn deploy(s: &Session, ns: &str, ui: &Arc<Ui>, a: &DeployArgs) -> Result<u8, Failure> {
    let spec = ServiceSpec::new(a.task.spec(&a.name, &a.command)).replicas(a.replicas);
    let mut workload = s.cm.create_deploy(ns, &spec).await.map_err(|err| match err {
        Error::AlreadyExists(_) => Failure::tool(format!(
            "deployment {} already exists in namespace {ns}; `clustermanager scale {} N` changes its replicas",
            a.name, a.name
        )),
        err => err.into(),
    })?;
    if !ui.json() {
        ui.note(&format!("deployment {} created in namespace {ns} ({} replicas)", a.name, a.replicas));
    }
    if !a.no_wait {
        let options = ui.reporting(WaitOptions::new().timeout(Some(a.timeout)));
        let available = s.cm.wait_workload_available_with(WorkloadKind::Deployment, ns, &a.name, &options);
        workload = ui.live(&a.name, "rolling out", available).await?;
    }
    if !document(ui, &WorkloadView::from(&workload))? {
        let state = if workload.is_available { "available" } else { "created" };
        ui.out(&format!(
            "deployment {} {state}: {}/{} replicas available",
            workload.name, workload.available, workload.replicas
        ));
    }
    Ok(exit::SUCCESS)
}

/// `scale`.
pub async fn scale(s: &Session, ns: &str, ui: &Ui, a: &ScaleArgs) -> Result<u8, Failure> {
    let scale = s.cm.set_scale_deploy(ns, &a.name, a.replicas).await.map_err(|err| match err {
        Error::NotFound(_) => Failure::tool(format!(
            "deployment {} not found in namespace {ns}; `clustermanager deploy` creates one{}",
            a.name,
            s.empty_fake_note()
        )),
        err => err.into(),
    })?;
    let doc = serde_json::json!({"name": scale.name, "replicas": scale.replicas, "desired": scale.desired});
    if !document(ui, &doc)? {
        ui.out(&format!("{} scaled to {} replicas (there were {})", a.name, scale.desired, scale.replicas));
    }
    Ok(exit::SUCCESS)
}
