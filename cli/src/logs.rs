//! `logs`: the log of a job's newest execution, or of an execution named directly; `-f` follows
//! it until it ends or Ctrl-C.

use std::sync::Arc;

use clustermanager_core::{Error, Execution, LogOptions, ResultExt, Status, WaitOptions};
use serde_json::json;

use crate::args::LogsArgs;
use crate::cluster::Session;
use crate::exit::{self, Failure};
use crate::ui::Ui;

/// `logs`.
pub async fn logs(s: &Session, ns: &str, ui: &Arc<Ui>, a: &LogsArgs) -> Result<u8, Failure> {
    let id = execution(s, ns, ui, a).await?;
    let options = LogOptions { tail_lines: a.tail, ..LogOptions::default() };
    let print = |line: &str| {
        if ui.json() {
            ui.event(json!({"event": "log", "execution": id, "line": line}));
        } else {
            ui.out(line);
        }
    };
    if !a.follow {
        let text = s.cm.get_execution_log(ns, &id, &options).await.map_err(|err| not_found(s, ns, &a.target, err))?;
        let lines: Vec<&str> = text.lines().collect();
        // Nomad has no tail on the server: keep the last lines here
        let skip = a.tail.map_or(0, |n| lines.len().saturating_sub(usize::try_from(n).unwrap_or(usize::MAX)));
        lines[skip..].iter().for_each(|line| print(line));
        return Ok(exit::SUCCESS);
    }
    let mut lines = s.cm.get_execution_log_watch(ns, &id, &options);
    loop {
        let next = tokio::select! {
            next = lines.next() => next,
            _ = tokio::signal::ctrl_c() => {
                ui.note(&format!("interrupted: stopped following the log of {id}; the execution keeps running"));
                return Ok(exit::INTERRUPTED);
            }
        };
        match next {
            Some(Ok(line)) => print(&line.text),
            Some(Err(err)) => return Err(not_found(s, ns, &a.target, err)),
            None => return Ok(exit::SUCCESS),
        }
    }
}

/// The execution whose log to read: of a job, its newest (with `-f`, one that started, waiting
/// for it), else `a.target` itself.
async fn execution(s: &Session, ns: &str, ui: &Arc<Ui>, a: &LogsArgs) -> Result<String, Failure> {
    let job = match s.cm.get_job(ns, &a.target).await.found() {
        Ok(job) => job,
        // not a valid job name: perhaps an execution's (a Nomad allocation ID)
        Err(Error::InvalidInput { .. }) => None,
        Err(err) => return Err(err.into()),
    };
    let Some(job) = job else { return Ok(a.target.clone()) };
    let executions = s.cm.list_job_executions(ns, &job.name).await?;
    let newest = executions.iter().max_by(|a, b| a.created.cmp(&b.created));
    match newest {
        Some(e) if e.status != Some(Status::Pending) => Ok(e.id.clone()),
        _ if a.follow => {
            let options = ui.reporting(WaitOptions::new());
            let wanted = [Status::Running, Status::Succeeded, Status::Failed];
            let wait = async {
                tokio::select! {
                    found = s.cm.wait_for_job_execution_status_with(ns, &a.target, &wanted, &options) => Some(found),
                    _ = tokio::signal::ctrl_c() => None,
                }
            };
            let found: Option<Result<Execution, Error>> = ui.live(&a.target, "waiting for an execution", wait).await;
            match found {
                Some(found) => Ok(found?.id),
                None => Err(Failure {
                    code: exit::INTERRUPTED,
                    message: format!("interrupted: stopped waiting for an execution of {}; the job stays", a.target),
                }),
            }
        }
        _ => Err(Failure::tool(format!(
            "job {} has no execution that started yet ({}); `clustermanager why {}` says why, `clustermanager logs -f {}` waits for one",
            job.name,
            job.pending_reason.map_or_else(|| "pending".to_owned(), |r| r.message),
            job.name,
            job.name
        ))),
    }
}

/// A log that could not be read: "no such job or execution" for a 404.
fn not_found(s: &Session, ns: &str, target: &str, err: Error) -> Failure {
    match err {
        Error::NotFound(_) => Failure::tool(format!(
            "no job or execution named {target} in namespace {ns}; `clustermanager ls` lists the jobs{}",
            s.empty_fake_note()
        )),
        err => err.into(),
    }
}
