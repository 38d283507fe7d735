//! The commands that read or remove: `ls`, `get`, `why`, `rm`, `nodes`, `ns`.

use std::sync::Arc;

use clustermanager_core::{DeleteOptions, Error, Execution, Job, Status};
use serde::Serialize;

use crate::args::{Format, NameArgs, NsCommand, RmArgs};
use crate::cluster::Session;
use crate::exit::{self, Failure};
use crate::ui::{age, Ui};
use crate::view::{age_of, since, status_word, table, JobView, NamespaceView, NodeView};

/// Print `value` as one JSON or YAML document (`-o json|yaml`); `false` for text, which the
/// caller prints itself.
pub fn document(ui: &Ui, value: &impl Serialize) -> Result<bool, Failure> {
    let text = match ui.format {
        Format::Text => return Ok(false),
        Format::Json => {
            serde_json::to_string_pretty(value).map_err(|e| Failure::tool(format!("cannot write JSON: {e}")))?
        }
        Format::Yaml => serde_saphyr::to_string(value).map_err(|e| Failure::tool(format!("cannot write YAML: {e}")))?,
    };
    ui.out(text.trim_end());
    Ok(true)
}

/// A job that is not there, said with what to do.
fn job_not_found(s: &Session, ns: &str, name: &str, err: Error) -> Failure {
    match err {
        Error::NotFound(_) => Failure::tool(format!(
            "job {name} not found in namespace {ns}; `clustermanager ls` lists the jobs there (-n picks another namespace){}",
            s.empty_fake_note()
        )),
        err => err.into(),
    }
}

/// `ls`.
pub async fn ls(s: &Session, ns: &str, ui: &Ui) -> Result<u8, Failure> {
    let jobs = s.cm.list_jobs(ns).await?;
    let executions = if jobs.is_empty() { Vec::new() } else { s.cm.list_jobs_executions(ns).await? };
    let now = s.wall_clock();
    let of = |job: &Job| executions.iter().filter(|e| e.job_name == job.name).collect::<Vec<&Execution>>();
    let views: Vec<JobView> = jobs.iter().map(|j| JobView::new(j, &of(j), false, now)).collect();
    if document(ui, &views)? {
        return Ok(exit::SUCCESS);
    }
    if jobs.is_empty() {
        ui.note(&format!("No jobs in namespace {ns}.{}", s.empty_fake_note()));
        return Ok(exit::SUCCESS);
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .zip(&views)
        .map(|(j, v)| {
            vec![
                j.name.clone(),
                ui.paint_status(&v.status),
                v.execution_count.to_string(),
                age_of(j.start_time.as_deref(), now),
            ]
        })
        .collect();
    table(&["NAME", "STATUS", "EXECUTIONS", "AGE"], &rows).iter().for_each(|l| ui.out(l));
    Ok(exit::SUCCESS)
}

/// `get`.
pub async fn get(s: &Session, ns: &str, ui: &Ui, a: &NameArgs) -> Result<u8, Failure> {
    let job = s.cm.get_job(ns, &a.name).await.map_err(|err| job_not_found(s, ns, &a.name, err))?;
    let mut executions = s.cm.list_job_executions(ns, &a.name).await?;
    executions.sort_by(|a, b| a.created.cmp(&b.created));
    let now = s.wall_clock();
    let view = JobView::new(&job, &executions.iter().collect::<Vec<_>>(), true, now);
    if document(ui, &view)? {
        return Ok(exit::SUCCESS);
    }
    let mut lines = vec![
        format!("Name:        {}", job.name),
        format!("Namespace:   {}", job.namespace),
        format!("Status:      {} ({})", ui.paint_status(&view.status), job.raw_status),
    ];
    if let Some(code) = job.exit_code {
        lines.push(format!("Exit code:   {code}"));
    }
    if let Some(start) = &job.start_time {
        lines.push(format!("Started:     {start} ({} ago)", age_of(Some(start), now)));
    }
    if let Some(end) = &job.completion_time {
        lines.push(format!("Completed:   {end}"));
    }
    if let Some(reason) = &job.pending_reason {
        lines.push(format!("Reason:      {} ({:?})", reason.message, reason.kind));
    }
    for (k, v) in &job.labels {
        lines.push(format!("Label:       {k}={v}"));
    }
    lines.push(format!("Executions:  {}", executions.len()));
    if !executions.is_empty() {
        let rows: Vec<Vec<String>> = executions
            .iter()
            .map(|e| {
                let exit = e.tasks.iter().find_map(|t| t.exit_code).map_or_else(|| "-".into(), |c| c.to_string());
                vec![
                    e.id.clone(),
                    ui.paint_status(&status_word(e.status, &e.raw_status)),
                    exit,
                    e.node.clone().unwrap_or_else(|| "-".into()),
                    age_of(e.created.as_deref(), now),
                ]
            })
            .collect();
        lines.extend(table(&["ID", "STATUS", "EXIT", "NODE", "AGE"], &rows).into_iter().map(|l| format!("  {l}")));
    }
    lines.iter().for_each(|l| ui.out(l));
    Ok(exit::SUCCESS)
}

/// What `why` says, as a document.
#[derive(Serialize)]
struct Why {
    job: String,
    namespace: String,
    status: String,
    /// One sentence.
    summary: String,
    reason: Option<crate::view::ReasonView>,
    /// When the job was submitted: it has been waiting since then.
    pending_since: Option<String>,
    executions: usize,
    exit_code: Option<i32>,
}

/// `why`.
pub async fn why(s: &Session, ns: &str, ui: &Ui, a: &NameArgs) -> Result<u8, Failure> {
    let job = s.cm.get_job(ns, &a.name).await.map_err(|err| job_not_found(s, ns, &a.name, err))?;
    let executions = s.cm.list_job_executions(ns, &a.name).await?;
    let now = s.wall_clock();
    let name = &job.name;
    let waited = since(job.start_time.as_deref(), now).map(age);
    let summary = match (job.status, &job.pending_reason) {
        (Some(Status::Succeeded), _) => format!("job {name} succeeded: nothing is wrong"),
        (Some(Status::Failed), Some(reason)) => format!("job {name} failed: {}", reason.message),
        (Some(Status::Failed), None) => format!("job {name} failed, and the server does not say why"),
        // a reason on an unfinished job: no execution has started (a Kubernetes Job counts a pod
        // that cannot start as active)
        (_, Some(reason)) => format!(
            "job {name} has not started{}: {}",
            waited.as_ref().map(|w| format!(" in {w}")).unwrap_or_default(),
            reason.message
        ),
        (Some(Status::Running), None) => {
            format!("job {name} is running ({} execution(s)): nothing holds it back", executions.len())
        }
        (_, None) => format!(
            "job {name} has not started{}, and the server does not say why yet (it may just be starting)",
            waited.as_ref().map(|w| format!(" in {w}")).unwrap_or_default()
        ),
    };
    let pending = match job.status {
        Some(Status::Succeeded | Status::Failed) => false,
        Some(Status::Running) => job.pending_reason.is_some(),
        Some(Status::Pending) | None => true,
    };
    let doc = Why {
        job: name.clone(),
        namespace: job.namespace.clone(),
        status: status_word(job.status, &job.raw_status),
        summary: summary.clone(),
        reason: job.pending_reason.as_ref().map(Into::into),
        pending_since: if pending { job.start_time.clone() } else { None },
        executions: executions.len(),
        exit_code: job.exit_code,
    };
    if document(ui, &doc)? {
        return Ok(exit::SUCCESS);
    }
    ui.out(&summary);
    if let Some(reason) = &job.pending_reason {
        let permanence = if reason.permanent {
            "permanent: it will not run until the job or the cluster changes"
        } else {
            "may clear up by itself"
        };
        ui.out(&format!("  reason:   {:?} ({permanence})", reason.kind));
        ui.out(&format!("  server:   {}", reason.source));
    }
    if let (true, Some(start)) = (pending, &job.start_time) {
        ui.out(&format!(
            "  since:    {start} ({} ago, when the job was submitted)",
            waited.unwrap_or_else(|| "-".into())
        ));
    }
    Ok(exit::SUCCESS)
}

/// `rm`.
pub async fn rm(s: &Session, ns: &str, ui: &Ui, a: &RmArgs) -> Result<u8, Failure> {
    let mut code = exit::SUCCESS;
    let mut done = Vec::new();
    for name in &a.names {
        match s.cm.delete_job(ns, name, DeleteOptions { wait: true, purge: true }).await {
            Ok(true) => {
                done.push(serde_json::json!({"job": name, "deleted": true}));
                if !ui.json() {
                    ui.out(&format!("job {name} deleted"));
                }
            }
            Ok(false) if a.ignore_not_found => done.push(serde_json::json!({"job": name, "deleted": false})),
            Ok(false) => {
                done.push(serde_json::json!({"job": name, "deleted": false}));
                ui.error(&format!(
                    "job {name} not found in namespace {ns}; `clustermanager ls` lists the jobs (--ignore-not-found to not mind){}",
                    s.empty_fake_note()
                ));
                code = exit::TOOL;
            }
            Err(err) => {
                ui.error(&format!("cannot delete job {name}: {}", exit::describe(&err)));
                code = exit::TOOL;
            }
        }
    }
    if ui.format != Format::Text {
        document(ui, &done)?;
    }
    Ok(code)
}

/// `nodes`.
pub async fn nodes(s: &Session, ui: &Ui) -> Result<u8, Failure> {
    let nodes = s.cm.get_nodes().await?;
    let views: Vec<NodeView> = nodes.iter().map(NodeView::from).collect();
    if document(ui, &views)? {
        return Ok(exit::SUCCESS);
    }
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|n| {
            vec![
                n.name.clone(),
                ui.paint_status(&n.status),
                if n.ready { "yes".into() } else { "no".into() },
                n.cpu_allocatable.clone().unwrap_or_else(|| "-".into()),
                n.memory_allocatable.clone().unwrap_or_else(|| "-".into()),
                if n.drivers.is_empty() { "-".into() } else { n.drivers.join(",") },
            ]
        })
        .collect();
    table(&["NAME", "STATUS", "READY", "CPU", "MEMORY", "DRIVERS"], &rows).iter().for_each(|l| ui.out(l));
    Ok(exit::SUCCESS)
}

/// `ns create|delete|ls`.
pub async fn ns(s: &Session, ui: &Arc<Ui>, command: &NsCommand) -> Result<u8, Failure> {
    match command {
        NsCommand::Create(a) => {
            let created = s.cm.create_namespace(&a.name).await?;
            let word = if created { "created" } else { "already exists" };
            if !document(ui, &serde_json::json!({"namespace": a.name, "created": created}))? {
                ui.out(&format!("namespace {} {word}", a.name));
            }
        }
        NsCommand::Delete(a) => {
            let deleted = s.cm.delete_namespace(&a.name).await?;
            if !deleted && !ui.json() {
                return Err(Failure::tool(format!(
                    "namespace {} not found; `clustermanager ns ls` lists them{}",
                    a.name,
                    s.empty_fake_note()
                )));
            }
            if !document(ui, &serde_json::json!({"namespace": a.name, "deleted": deleted}))? {
                ui.out(&format!("namespace {} deleted", a.name));
            }
        }
        NsCommand::Ls => {
            let namespaces = s.cm.list_namespaces().await?;
            let views: Vec<NamespaceView> = namespaces.iter().map(NamespaceView::from).collect();
            if !document(ui, &views)? {
                let rows: Vec<Vec<String>> = views
                    .iter()
                    .map(|n| vec![n.name.clone(), ui.paint_status(&n.phase), n.description.clone().unwrap_or_default()])
                    .collect();
                table(&["NAME", "STATUS", "DESCRIPTION"], &rows).iter().for_each(|l| ui.out(l.trim_end()));
            }
        }
    }
    Ok(exit::SUCCESS)
}
