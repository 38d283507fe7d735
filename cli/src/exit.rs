//! Exit codes, and errors as one line that says what to do.

use clustermanager_core::{Error, Job, Status};

/// The job succeeded; or the command did what it was asked.
pub const SUCCESS: u8 = 0;
/// The job failed without an exit code (its executions were deleted, a deadline ended it).
pub const FAILED: u8 = 1;
/// `--timeout` passed first.
pub const TIMED_OUT: u8 = 124;
/// clustermanager itself failed (usage, configuration, connection, not found, refused).
pub const TOOL: u8 = 125;
/// The job cannot run (invalid image, missing Nomad driver, stuck past a deadline).
pub const CANNOT_RUN: u8 = 126;
/// Interrupted with Ctrl-C.
pub const INTERRUPTED: u8 = 130;

/// How the process ends on a job that finished: 0 when it succeeded, its exit code when it failed
/// with one from 1 to 255, else 1.
pub fn of_job(job: &Job) -> u8 {
    match (job.status, job.exit_code) {
        (Some(Status::Succeeded), _) => SUCCESS,
        (_, Some(code)) if (1..=255).contains(&code) => u8::try_from(code).unwrap_or(FAILED),
        _ => FAILED,
    }
}

/// A command that did not succeed: the exit code and the one line that says why and what to do.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// One line, without the `error: ` prefix.
    pub message: String,
}

impl Failure {
    /// A failure of clustermanager itself ([`TOOL`]).
    pub fn tool(message: impl Into<String>) -> Self {
        Failure { code: TOOL, message: one_line(&message.into()) }
    }
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        Failure { code: code_of(&err), message: describe(&err) }
    }
}

/// The exit code an error ends the command with.
pub fn code_of(err: &Error) -> u8 {
    match err {
        Error::CannotRun { .. } => CANNOT_RUN,
        Error::Timeout { .. } => TIMED_OUT,
        _ => TOOL,
    }
}

/// An error as one line, with what to do where the error's own words do not say it.
pub fn describe(err: &Error) -> String {
    let text = one_line(&err.to_string());
    let hint = match err {
        Error::CannotRun { reason, .. } => {
            format!(" [{:?}, the server said: {}]; change the job (image, driver, resources) and run it again with --replace", reason.kind, one_line(&reason.source))
        }
        Error::AlreadyExists(_) => "; pass --replace to delete it first, or remove it with `clustermanager rm`".into(),
        Error::NotFound(_) => "; `clustermanager ls` lists the jobs of the namespace (-n picks another)".into(),
        Error::Config { .. } => "; fix the file or variable it names".into(),
        Error::Invalid(_) | Error::InvalidInput { .. } => "; fix the value it names and try again".into(),
        _ => String::new(),
    };
    format!("{text}{hint}")
}

/// `text` on one line: each run of whitespace (newlines included) becomes one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_ends_the_process_with_its_exit_code() {
        let job = |status, exit_code| Job { status: Some(status), exit_code, ..Job::default() };
        assert_eq!(of_job(&job(Status::Succeeded, Some(0))), 0);
        assert_eq!(of_job(&job(Status::Failed, Some(3))), 3);
        assert_eq!(of_job(&job(Status::Failed, Some(137))), 137);
        assert_eq!(of_job(&job(Status::Failed, None)), 1);
        assert_eq!(of_job(&job(Status::Failed, Some(0))), 1, "failed without a failing exit code");
        assert_eq!(of_job(&job(Status::Failed, Some(-1))), 1);
        assert_eq!(of_job(&job(Status::Failed, Some(300))), 1);
    }

    #[test]
    fn errors_are_one_line() {
        let err = Error::Timeout { what: "job a\nto finish".into() };
        assert_eq!(describe(&err), "timed out: job a to finish");
        assert_eq!(code_of(&err), TIMED_OUT);
    }
}
