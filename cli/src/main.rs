//! `clustermanager`: run and watch batch work on Kubernetes and Nomad from a shell or a CI step.
//! Run a job and exit with its exit code, follow its log, see why it is stuck, list, inspect and
//! remove jobs, nodes, namespaces and Deployments — on the cluster kubectl or nomad would use, or
//! on the embedded fake cluster when none is configured. `clustermanager --help` says everything
//! (exit codes included); the README has the same.

mod args;
mod cluster;
mod deploy;
mod exit;
mod jobs;
mod logs;
mod show;
mod ui;
mod view;

use std::io::Read;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use clustermanager_tokio::StdEnvironment;

use args::{Cli, Command, CompletionShell, Format};
use cluster::Session;
use exit::Failure;
use ui::Ui;

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(args::join_fake_value(std::env::args())) {
        Ok(cli) => cli,
        Err(err) => return ExitCode::from(usage(&err)),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(exit::TOOL);
        }
    };
    ExitCode::from(runtime.block_on(app(cli)))
}

/// A command line clap refused (or `--help`, `--version`): printed as clap does for help, as one
/// line for errors. The exit code.
fn usage(err: &clap::Error) -> u8 {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                exit::TOOL
            } else {
                exit::SUCCESS
            }
        }
        _ => {
            let rendered = err.render().to_string();
            let first = rendered.lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid command line");
            let first = first.trim_start_matches("error: ");
            eprintln!(
                "error: {}; see `clustermanager --help` (or `clustermanager COMMAND --help`)",
                exit::one_line(first)
            );
            exit::TOOL
        }
    }
}

/// Run the command line; the exit code.
async fn app(cli: Cli) -> u8 {
    let one_command = match &cli.command {
        Command::Completions(a) => return completions(a.shell),
        Command::Script(_) => false,
        _ => true,
    };
    let session = match cluster::connect(&cli.global, &StdEnvironment, one_command).await {
        Ok(session) => session,
        Err(failure) => return fail(&failure, cli.global.output),
    };
    let namespace = session.namespace.clone();
    match &cli.command {
        Command::Script(a) => script(&session, &cli.global, a.file.as_deref()).await,
        command => run(&session, &namespace, cli.global.output, command).await,
    }
}

/// Print `failure` as its one line; its exit code.
fn fail(failure: &Failure, format: Format) -> u8 {
    let ui = Ui::new(format, None, false);
    ui.error(&failure.message);
    failure.code
}

/// Run one command on `session`; the exit code.
async fn run(session: &Session, namespace: &str, format: Format, command: &Command) -> u8 {
    let streaming = matches!(command, Command::Run(_) | Command::Wait(_) | Command::Logs(_));
    let ui = Ui::new(format, Some(session.cm.transport().clone()), streaming);
    if streaming && format == Format::Yaml {
        ui.error("-o yaml is for documents (get, ls, why, nodes, ns ls, deploy, scale); run, wait and logs write JSON lines with -o json");
        return exit::TOOL;
    }
    let result = match command {
        Command::Run(a) => jobs::run(session, namespace, &ui, a).await,
        Command::Wait(a) => jobs::wait(session, namespace, &ui, a).await,
        Command::Logs(a) => logs::logs(session, namespace, &ui, a).await,
        Command::Ls => show::ls(session, namespace, &ui).await,
        Command::Get(a) => show::get(session, namespace, &ui, a).await,
        Command::Rm(a) => show::rm(session, namespace, &ui, a).await,
        Command::Why(a) => show::why(session, namespace, &ui, a).await,
        Command::Nodes => show::nodes(session, &ui).await,
        Command::Ns(c) => show::ns(session, &ui, c).await,
        Command::Deploy(a) => deploy::deploy(session, namespace, &ui, a).await,
        Command::Scale(a) => deploy::scale(session, namespace, &ui, a).await,
        Command::Script(_) => Err(Failure::tool("a script cannot run another script")),
        Command::Completions(a) => Ok(completions(a.shell)),
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            ui.error(&failure.message);
            failure.code
        }
    }
}

/// `script`: each line a command on the one session; stops at the first that fails.
async fn script(session: &Session, global: &args::Global, file: Option<&std::path::Path>) -> u8 {
    let ui = Ui::new(global.output, Some(session.cm.transport().clone()), false);
    let text = match file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display())),
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map(|_| text)
                .map_err(|e| format!("cannot read standard input: {e}"))
        }
    };
    let text = match text {
        Ok(text) => text,
        Err(message) => {
            ui.error(&message);
            return exit::TOOL;
        }
    };
    for (n, line) in text.lines().enumerate().map(|(n, l)| (n + 1, l.trim())) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(mut words) = shlex::split(line) else {
            ui.error(&format!("line {n}: unbalanced quotes in {line:?}"));
            return exit::TOOL;
        };
        if matches!(words.first().map(String::as_str), Some("clustermanager" | "cm")) {
            words.remove(0);
        }
        let parsed =
            match Cli::try_parse_from(args::join_fake_value(std::iter::once("clustermanager".to_owned()).chain(words)))
            {
                Ok(parsed) => parsed,
                Err(err) => {
                    let code = usage(&err);
                    if code != exit::SUCCESS {
                        ui.note(&format!("the script stopped at line {n}"));
                        return code;
                    }
                    continue;
                }
            };
        if parsed.global.chooses_cluster() {
            ui.error(&format!(
                "line {n}: --fake, --context, --kubeconfig and --nomad go on `clustermanager script` itself: a script runs on one cluster"
            ));
            return exit::TOOL;
        }
        if matches!(parsed.command, Command::Script(_)) {
            ui.error(&format!("line {n}: a script cannot run another script"));
            return exit::TOOL;
        }
        if !ui.json() {
            ui.note(&format!("$ clustermanager {line}"));
        }
        let namespace = parsed.global.namespace.clone().unwrap_or_else(|| session.namespace.clone());
        let format = if parsed.global.output == Format::Text { global.output } else { parsed.global.output };
        let code = run(session, &namespace, format, &parsed.command).await;
        if code != exit::SUCCESS {
            ui.note(&format!("the script stopped at line {n} (exit code {code})"));
            return code;
        }
    }
    exit::SUCCESS
}

/// `completions`: the script for `shell` on stdout.
fn completions(shell: CompletionShell) -> u8 {
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut Cli::command(), "clustermanager", &mut std::io::stdout());
    exit::SUCCESS
}
