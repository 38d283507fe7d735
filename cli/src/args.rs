//! The command line: every command and option, with the help text and an example per command.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clustermanager_core::{Driver, JobSpec};

/// The exit-code table (a macro so that it can be joined into the help text at compile time).
macro_rules! exit_codes {
    () => {
        "\
Exit codes:
  0      success (run, wait: the job succeeded)
  1-255  run, wait: the job failed with this exit code (1 when it failed without one)
  124    --timeout passed before the job finished (the job keeps running)
  125    clustermanager itself failed: bad usage or configuration, cluster unreachable,
         not found, refused by the server (the one-line error says what to do)
  126    the job cannot run: the error names the reason (invalid image, missing Nomad
         driver, stuck past --startup-deadline or the 5 min stuck deadline)
  130    interrupted (Ctrl-C): following stopped, the job keeps running unless --rm
  A job that itself exits 124, 125, 126 or 130 reads the same: -o json tells them apart."
    };
}

const AFTER_HELP: &str = concat!(
    "\
Cluster selection, as kubectl and nomad do: --kubeconfig / KUBECONFIG / ~/.kube/config
(--context picks a context), else the in-cluster service account, else NOMAD_ADDR (with
NOMAD_TOKEN, NOMAD_NAMESPACE, NOMAD_REGION, NOMAD_CACERT...; --nomad prefers Nomad over a
kubeconfig). With no cluster configured at all, or with --fake [kubernetes|nomad], commands
run on the embedded fake cluster and say so on stderr. A configuration that is there but
broken is an error, never a reason to use the fake.

The embedded fake lives inside this process: each command starts on an empty fake cluster
(jobs \"run\" their command in virtual time: `echo hi` logs hi, `exit 3` fails with exit
code 3, `sleep 60` takes no real time). Commands that need an earlier command's job (wait,
logs, get, why, rm, scale) see it when run together on one fake: `clustermanager script`.

Output: on a terminal, run, wait and logs -f show a live status line on stderr (spinner,
elapsed time, why the job is stuck) that is cleared when done; through a pipe, plain lines;
with -o json, JSON lines (run, wait, logs) or one JSON document (the others). No escape
codes unless the stream is a terminal; NO_COLOR turns colors off.

A short alias: alias cm=clustermanager

Examples:
  clustermanager run hello --image busybox -- echo hi
  clustermanager --fake nomad run hello --image busybox -- sh -c 'exit 3'; echo $?   # 3
  clustermanager -n batch ls
  clustermanager why hello

",
    exit_codes!()
);

/// Run and watch batch work on Kubernetes and Nomad: run a job, follow its log, see why it is
/// stuck, exit with its exit code.
#[derive(Debug, Parser)]
#[command(name = "clustermanager", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Where and how.
    #[command(flatten)]
    pub global: Global,
    /// What.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Namespace to work in [default: the kubeconfig context's, the service account's,
    /// NOMAD_NAMESPACE, else `default`]
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Kubeconfig context to use instead of its current-context
    #[arg(long, global = true, value_name = "CONTEXT")]
    pub context: Option<String>,
    /// Kubeconfig file(s) to read instead of KUBECONFIG / ~/.kube/config
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<String>,
    /// Use Nomad from its environment (NOMAD_ADDR, NOMAD_TOKEN, NOMAD_NAMESPACE, ...) even
    /// when a kubeconfig exists
    #[arg(long, global = true, conflicts_with_all = ["context", "kubeconfig"])]
    pub nomad: bool,
    /// Run on the embedded fake cluster (Kubernetes, or Nomad): it starts empty and lives only
    /// as long as this command
    #[arg(
        long,
        global = true,
        value_enum,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "kubernetes",
        value_name = "ORCHESTRATOR",
        conflicts_with_all = ["context", "kubeconfig", "nomad"]
    )]
    pub fake: Option<FakeKind>,
    /// Output format: text, json (JSON lines for run, wait and logs; one document otherwise) or
    /// yaml (documents only)
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Format::Text)]
    pub output: Format,
}

impl Global {
    /// Whether these options choose the cluster (not allowed on a `script` line: the script
    /// runs on one connection).
    pub fn chooses_cluster(&self) -> bool {
        self.context.is_some() || self.kubeconfig.is_some() || self.nomad || self.fake.is_some()
    }
}

/// Which embedded fake cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FakeKind {
    /// A fake kube-apiserver with one node.
    Kubernetes,
    /// A fake Nomad agent with one client node (drivers docker, exec, raw_exec).
    Nomad,
}

/// `-o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// JSON: JSON lines for run, wait and logs; one document for the others.
    Json,
    /// YAML documents (get, ls, why, nodes, ns ls, deploy, scale).
    Yaml,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a job, follow its log (to stdout) and progress (to stderr), exit with its exit code
    #[command(after_help = "\
Examples:
  clustermanager run hello --image busybox -- echo hi
  clustermanager run migrate --image app:1.4 --env DB=prod --timeout 10m --rm -- ./migrate
  clustermanager run train --image trainer --cpu 2 --memory 4Gi --detach -- python train.py")]
    Run(RunArgs),
    /// Wait for a job to finish (showing why it is stuck), exit with its exit code
    #[command(after_help = "Example:\n  clustermanager wait hello --timeout 30m")]
    Wait(WaitArgs),
    /// Print the log of a job's newest execution, or of an execution (pod or allocation)
    #[command(after_help = "\
Examples:
  clustermanager logs hello --tail 20
  clustermanager logs -f hello-x7k2p")]
    Logs(LogsArgs),
    /// List the namespace's jobs with their status, age and executions
    #[command(visible_alias = "list", after_help = "Example:\n  clustermanager -n batch ls -o json")]
    Ls,
    /// Show one job: status, exit code, why it is pending or failed, its executions
    #[command(after_help = "Example:\n  clustermanager get hello -o yaml")]
    Get(NameArgs),
    /// Delete jobs with their executions, waiting until they are gone
    #[command(visible_alias = "delete", after_help = "Example:\n  clustermanager rm hello migrate")]
    Rm(RmArgs),
    /// Say why a job is not running: the reason's kind, the server's words, since when
    #[command(after_help = "Example:\n  clustermanager why hello")]
    Why(NameArgs),
    /// List the cluster's nodes (Nomad: with their task drivers)
    #[command(after_help = "Example:\n  clustermanager nodes")]
    Nodes,
    /// Create, delete or list namespaces
    #[command(subcommand, after_help = "Examples:\n  clustermanager ns create batch\n  clustermanager ns ls")]
    Ns(NsCommand),
    /// Create a long-running Deployment (Nomad: a service job) and wait until it is available
    #[command(after_help = "Example:\n  clustermanager deploy web --image nginx:1.27 --replicas 2")]
    Deploy(DeployArgs),
    /// Change how many replicas a Deployment (Nomad: a job's task group) runs
    #[command(after_help = "Example:\n  clustermanager scale web 3")]
    Scale(ScaleArgs),
    /// Run commands, one a line, on one connection (on the embedded fake: one fake cluster)
    #[command(after_help = "\
Each line is a clustermanager command without the `clustermanager` word (# starts a comment);
the script stops at the first command that fails and exits with its code. Connection options
(--fake, --context, --kubeconfig, --nomad) go on `script` itself.

Example:
  printf 'run hello --image busybox -- echo hi\\nls\\nlogs hello\\n' | clustermanager --fake script")]
    Script(ScriptArgs),
    /// Print a shell completion script
    #[command(after_help = "\
Examples:
  clustermanager completions bash > ~/.local/share/bash-completion/completions/clustermanager
  clustermanager completions zsh > \"${fpath[1]}/_clustermanager\"
  clustermanager completions fish > ~/.config/fish/completions/clustermanager.fish")]
    Completions(CompletionsArgs),
}

/// What a job runs (shared by `run` and `deploy`).
#[derive(Debug, Clone, Args)]
pub struct TaskArgs {
    /// Container image (Nomad: runs with the docker driver unless --driver says otherwise)
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// CPU limit, as a Kubernetes quantity (500m, 2); Nomad gets MHz from it
    #[arg(long, value_name = "QUANTITY")]
    pub cpu: Option<String>,
    /// Memory limit, as a Kubernetes quantity (256Mi, 4Gi); Nomad gets MB from it
    #[arg(long, value_name = "QUANTITY")]
    pub memory: Option<String>,
    /// An environment variable (repeat for more)
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", value_parser = key_value)]
    pub env: Vec<(String, String)>,
    /// A label (Nomad: Meta) (repeat for more)
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE", value_parser = key_value)]
    pub labels: Vec<(String, String)>,
    /// Nomad task driver: docker, exec, raw_exec or any other name [default: docker with an
    /// image, else exec]
    #[arg(long, value_name = "DRIVER")]
    pub driver: Option<String>,
}

impl TaskArgs {
    /// The job spec these options and `command` describe.
    pub fn spec(&self, name: &str, command: &[String]) -> JobSpec {
        let mut spec = JobSpec::new(name);
        if let Some(image) = &self.image {
            spec = spec.image(image.clone());
        }
        if !command.is_empty() {
            spec = spec.command(command.iter().cloned());
        }
        if let Some(cpu) = &self.cpu {
            spec = spec.cpu_limit(cpu.clone());
        }
        if let Some(memory) = &self.memory {
            spec = spec.mem_limit(memory.clone());
        }
        for (k, v) in &self.env {
            spec = spec.env(k.clone(), v.clone());
        }
        for (k, v) in &self.labels {
            spec = spec.label(k.clone(), v.clone());
        }
        if let Some(driver) = &self.driver {
            spec = spec.driver(match driver.as_str() {
                "docker" => Driver::Docker,
                "exec" => Driver::Exec,
                "raw_exec" => Driver::RawExec,
                other => Driver::Other(other.to_owned()),
            });
        }
        spec
    }
}

/// How long to follow (`run`, `wait`).
#[derive(Debug, Clone, Args)]
pub struct WaitLimits {
    /// Give up after this long (30s, 10m, 1h30m): exit 124, the job keeps running
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub timeout: Option<Duration>,
    /// Fail (exit 126) when no execution started within this long, whatever the reason
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub startup_deadline: Option<Duration>,
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job's name
    pub name: String,
    /// What it runs.
    #[command(flatten)]
    pub task: TaskArgs,
    /// How long to follow.
    #[command(flatten)]
    pub limits: WaitLimits,
    /// Only create the job: print its name and exit
    #[arg(short = 'd', long, conflicts_with = "rm")]
    pub detach: bool,
    /// Delete the job and its executions once it ended (or on Ctrl-C)
    #[arg(long)]
    pub rm: bool,
    /// Delete a job of the same name first, waiting until it is gone
    #[arg(long)]
    pub replace: bool,
    /// The command and its arguments, after `--` (the image's own when none)
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The job's name
    pub name: String,
    /// How long to wait.
    #[command(flatten)]
    pub limits: WaitLimits,
}

/// `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// A job (its newest execution's log) or an execution (a pod name, a Nomad allocation ID)
    #[arg(value_name = "NAME|EXECUTION")]
    pub target: String,
    /// Follow the log as it is written, until the execution ends (Ctrl-C stops following)
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only the last N lines
    #[arg(long, value_name = "N")]
    pub tail: Option<u64>,
}

/// A command on one job.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// The job's name
    pub name: String,
}

/// `rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// The jobs' names
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// A job that does not exist is no error
    #[arg(long)]
    pub ignore_not_found: bool,
}

/// `ns`.
#[derive(Debug, Subcommand)]
pub enum NsCommand {
    /// Create a namespace and wait until it is usable
    #[command(after_help = "Example:\n  clustermanager ns create batch")]
    Create(NsName),
    /// Delete a namespace and wait until it is gone
    #[command(visible_alias = "rm", after_help = "Example:\n  clustermanager ns delete batch")]
    Delete(NsName),
    /// List the namespaces
    #[command(visible_alias = "list", after_help = "Example:\n  clustermanager ns ls")]
    Ls,
}

/// A namespace's name.
#[derive(Debug, Args)]
pub struct NsName {
    /// The namespace's name
    pub name: String,
}

/// `deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The Deployment's name (Nomad: the service job's)
    pub name: String,
    /// What each replica runs.
    #[command(flatten)]
    pub task: TaskArgs,
    /// How many replicas
    #[arg(long, default_value_t = 1)]
    pub replicas: u32,
    /// Only create it; do not wait until it is available
    #[arg(long)]
    pub no_wait: bool,
    /// How long to wait until it is available
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "60s")]
    pub timeout: Duration,
    /// The command and its arguments, after `--`
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `scale`.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// The Deployment (Nomad: job, or job/group)
    pub name: String,
    /// How many replicas
    pub replicas: u32,
}

/// `script`.
#[derive(Debug, Args)]
pub struct ScriptArgs {
    /// The file of commands [default: standard input]
    pub file: Option<PathBuf>,
}

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    pub shell: CompletionShell,
}

/// The shells completions are written for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompletionShell {
    /// bash
    Bash,
    /// zsh
    Zsh,
    /// fish
    Fish,
}

/// The command line with `--fake kubernetes` / `--fake nomad` joined into `--fake=...` (before
/// any `--`): clap takes an optional value only with `=`, and would otherwise read the
/// command's name as it.
pub fn join_fake_value<I: IntoIterator<Item = String>>(args: I) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut args = args.into_iter().peekable();
    while let Some(arg) = args.next() {
        if arg == "--" {
            out.push(arg);
            out.extend(args);
            break;
        }
        if arg == "--fake" && args.peek().is_some_and(|next| next == "kubernetes" || next == "nomad") {
            let kind = args.next().unwrap_or_default();
            out.push(format!("--fake={kind}"));
        } else {
            out.push(arg);
        }
    }
    out
}

/// `KEY=VALUE`.
fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

/// A duration: `90` (seconds), `30s`, `10m`, `1h30m`, `2d`, `500ms`.
pub fn duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration: write 30s, 10m, 1h30m (a bare number is seconds)");
    let text = text.trim();
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').ok_or_else(bad)?;
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            _ => return Err(bad()),
        };
        total += Duration::try_from_secs_f64(number * seconds).map_err(|_| bad())?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("1.5m"), Ok(Duration::from_secs(90)));
        for bad in ["", "m", "5x", "ten", "5 m"] {
            assert!(duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_readme_lists_the_exit_codes_as_help_does() {
        let readme = include_str!("../../README.md");
        for line in exit_codes!().lines().skip(1) {
            assert!(readme.contains(line.trim()), "README.md lacks {line:?}");
        }
    }

    #[test]
    fn the_fake_takes_its_orchestrator_with_or_without_an_equals_sign() {
        let parse = |line: &str| {
            let args = join_fake_value(line.split(' ').map(str::to_owned));
            Cli::try_parse_from(args).map(|cli| cli.global.fake)
        };
        assert_eq!(parse("cm --fake run a").unwrap(), Some(FakeKind::Kubernetes));
        assert_eq!(parse("cm --fake nomad run a").unwrap(), Some(FakeKind::Nomad));
        assert_eq!(parse("cm --fake=nomad run a").unwrap(), Some(FakeKind::Nomad));
        assert_eq!(parse("cm run a --fake nomad -- echo --fake nomad").unwrap(), Some(FakeKind::Nomad));
        assert_eq!(parse("cm run a").unwrap(), None);
        let args = join_fake_value("cm run a -- --fake nomad".split(' ').map(str::to_owned));
        assert_eq!(args.last().map(String::as_str), Some("nomad"), "the job's own command is left alone");
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
