//! The std side of running a kubeconfig exec plugin: both runtimes' process APIs (tokio::process,
//! async-process) end in a [`std::process::Output`], which [`plugin_run`] turns into what core's
//! [`ExecState`](clustermanager_core::config::exec::ExecState) takes.

use clustermanager_core::config::exec::PluginRun;

/// A finished plugin process as core's exec policy sees it.
pub fn plugin_run(output: std::process::Output) -> PluginRun {
    PluginRun {
        success: output.status.success(),
        status: output.status.to_string(),
        stdout: output.stdout,
        stderr: output.stderr,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn exit_status_and_streams_carry_over() {
        let output = std::process::Output {
            status: std::process::ExitStatus::from_raw(3 << 8),
            stdout: b"out".to_vec(),
            stderr: b"err".to_vec(),
        };
        let run = plugin_run(output);
        assert!(!run.success);
        assert_eq!(run.status, "exit status: 3");
        assert_eq!((run.stdout.as_slice(), run.stderr.as_slice()), (&b"out"[..], &b"err"[..]));
        assert!(
            plugin_run(std::process::Output { status: ExitStatusExt::from_raw(0), stdout: vec![], stderr: vec![] })
                .success
        );
    }
}
