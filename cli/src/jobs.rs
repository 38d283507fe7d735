//! `run` and `wait`: follow a job to its end — why it is stuck while it has not started, its log
//! while it runs, how it ended — and exit with its exit code.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clustermanager_core::{DeleteOptions, Error, Job, LogOptions, Status, Transport, WaitOptions};
use serde_json::json;

use crate::args::{RunArgs, WaitArgs, WaitLimits};
use crate::cluster::Session;
use crate::exit::{self, Failure};
use crate::ui::{age, reason_json, Ui};

/// How following a job ended.
enum Outcome {
    /// It finished (succeeded or failed).
    Finished(Job),
    /// It cannot run, or the wait ended for another error.
    Failed(Error),
    /// `--timeout` passed.
    TimedOut(Error),
    /// Ctrl-C.
    Interrupted,
}

/// `run`.
pub async fn run(s: &Session, ns: &str, ui: &Arc<Ui>, a: &RunArgs) -> Result<u8, Failure> {
    let spec = a.task.spec(&a.name, &a.command);
    let created = if a.replace { s.cm.replace_job(ns, &spec).await } else { s.cm.create_job(ns, &spec).await };
    created.map_err(|err| match err {
        Error::AlreadyExists(_) => Failure::tool(format!(
            "job {} already exists in namespace {ns}; pass --replace to delete it first, or remove it with `clustermanager rm {}`",
            a.name, a.name
        )),
        err => Failure::from(err),
    })?;
    ui.event(json!({"event": "created", "job": a.name, "namespace": ns, "orchestrator": s.cm.orchestrator().name()}));
    if !ui.json() {
        ui.note(&format!("job {} created in namespace {ns}", a.name));
    }
    if a.detach {
        if !ui.json() {
            ui.out(&a.name);
        }
        if s.fake_for_one_command() {
            ui.note("(on the embedded fake cluster the job ends with this command: `clustermanager script` runs several on one)");
        }
        return Ok(exit::SUCCESS);
    }
    let outcome = follow(s, ns, ui, &a.name, &a.limits, true).await;
    let code = report(s, ns, ui, &a.name, &outcome, a.rm);
    if a.rm {
        match s.cm.delete_job(ns, &a.name, DeleteOptions { wait: true, purge: true }).await {
            Ok(_) => {
                ui.event(json!({"event": "deleted", "job": a.name}));
                if !ui.json() {
                    ui.note(&format!("job {} deleted (--rm)", a.name));
                }
            }
            Err(err) => ui.error(&format!("could not delete job {} (--rm): {}", a.name, exit::describe(&err))),
        }
    }
    Ok(code)
}

/// `wait`.
pub async fn wait(s: &Session, ns: &str, ui: &Arc<Ui>, a: &WaitArgs) -> Result<u8, Failure> {
    let outcome = follow(s, ns, ui, &a.name, &a.limits, false).await;
    Ok(report(s, ns, ui, &a.name, &outcome, false))
}

/// The wait options: `limits` with the time left, progress to `ui`.
fn options(ui: &Arc<Ui>, limits: &WaitLimits, left: Option<Duration>) -> WaitOptions {
    ui.reporting(WaitOptions::new().timeout(left).startup_deadline(limits.startup_deadline))
}

/// Follow `job` until it ends: the live status line while it waits, its log on stdout when
/// `logs`, Ctrl-C stops following.
async fn follow(s: &Session, ns: &str, ui: &Arc<Ui>, job: &str, limits: &WaitLimits, logs: bool) -> Outcome {
    let clock = s.cm.transport().clone();
    let deadline: Option<Instant> = limits.timeout.map(|t| clock.now() + t);
    let left = || deadline.map(|d| d.saturating_duration_since(clock.now()));
    let work = async {
        if logs {
            // an execution to follow (while none has started, the looks at why)
            let wanted = [Status::Running, Status::Succeeded, Status::Failed];
            let execution =
                match s.cm.wait_for_job_execution_status_with(ns, job, &wanted, &options(ui, limits, left())).await {
                    Ok(execution) => execution,
                    Err(err) => return Outcome::ended(err),
                };
            ui.status(job, format!("running {}", execution.id));
            let mut lines = s.cm.get_execution_log_watch(ns, &execution.id, &LogOptions::default());
            loop {
                let next = match left() {
                    Some(left) => tokio::select! {
                        next = lines.next() => next,
                        () = clock.sleep(left) => return Outcome::TimedOut(Error::Timeout {
                            what: format!("job {ns}/{job} to finish (--timeout {})", age(limits.timeout.unwrap_or_default())),
                        }),
                    },
                    None => lines.next().await,
                };
                match next {
                    Some(Ok(line)) => {
                        if ui.json() {
                            ui.event(json!({"event": "log", "job": job, "execution": execution.id, "line": line.text}));
                        } else {
                            ui.out(&line.text);
                        }
                    }
                    Some(Err(err)) => {
                        ui.note(&format!("the log of {} stopped: {}", execution.id, exit::describe(&err)));
                        break;
                    }
                    None => break,
                }
            }
        }
        match s.cm.wait_for_job_with(ns, job, &options(ui, limits, left())).await {
            Ok(job) => Outcome::Finished(job),
            Err(err) => Outcome::ended(err),
        }
    };
    let followed = async {
        tokio::select! {
            outcome = work => outcome,
            _ = tokio::signal::ctrl_c() => Outcome::Interrupted,
        }
    };
    ui.live(job, if logs { "pending" } else { "waiting" }, followed).await
}

impl Outcome {
    fn ended(err: Error) -> Outcome {
        match err {
            Error::Timeout { .. } => Outcome::TimedOut(err),
            err => Outcome::Failed(err),
        }
    }
}

/// Say how following `job` ended (stderr, or a JSON line); returns the exit code.
fn report(s: &Session, ns: &str, ui: &Ui, job: &str, outcome: &Outcome, rm: bool) -> u8 {
    let took = age(ui.elapsed());
    let keeps = if rm {
        "it is deleted now (--rm)".to_owned()
    } else {
        format!(
            "job {job} keeps running in namespace {ns}: `clustermanager logs -f {job}` follows it again, `clustermanager rm {job}` removes it"
        )
    };
    match outcome {
        Outcome::Finished(j) => {
            let code = exit::of_job(j);
            let status = crate::view::status_word(j.status, &j.raw_status);
            ui.event(json!({
                "event": "finished", "job": job, "status": status, "exit_code": j.exit_code,
                "reason": j.pending_reason.as_ref().map(reason_json),
            }));
            if !ui.json() {
                let line = match (j.status, j.exit_code) {
                    (Some(Status::Succeeded), _) => format!("job {job} succeeded in {took}"),
                    (_, Some(c)) => format!("job {job} failed with exit code {c} in {took}"),
                    _ => format!("job {job} failed in {took}"),
                };
                match &j.pending_reason {
                    Some(reason) if code != exit::SUCCESS => ui.note(&format!("{line}: {reason}")),
                    _ => ui.note(&line),
                }
            }
            code
        }
        Outcome::Failed(err) => {
            let code = exit::code_of(err);
            match err {
                Error::CannotRun { reason, .. } => ui.event(
                    json!({"event": "cannot_run", "job": job, "reason": reason_json(reason), "exit_code": code}),
                ),
                _ => ui.event(json!({"event": "error", "job": job, "message": exit::describe(err), "exit_code": code})),
            }
            let note = match err {
                Error::NotFound(_) => s.empty_fake_note(),
                _ => "",
            };
            ui.error(&format!("{}{note}", exit::describe(err)));
            code
        }
        Outcome::TimedOut(err) => {
            ui.event(
                json!({"event": "timeout", "job": job, "message": exit::describe(err), "exit_code": exit::TIMED_OUT}),
            );
            ui.error(&format!("{}; {keeps}", exit::describe(err)));
            exit::TIMED_OUT
        }
        Outcome::Interrupted => {
            ui.event(json!({"event": "interrupted", "job": job, "exit_code": exit::INTERRUPTED}));
            let what = if rm { format!("deleting job {job} (--rm)") } else { keeps };
            ui.note(&format!("interrupted: stopped following; {what}"));
            exit::INTERRUPTED
        }
    }
}
