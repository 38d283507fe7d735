//! Which cluster a command talks to: the one the options and the environment configure, as
//! kubectl and nomad find theirs, or the embedded fake cluster — asked for with `--fake`, or when
//! nothing at all is configured ([`Error::NotConfigured`]). A configuration that is there but
//! broken is an error, never a reason to use the fake.

use std::time::SystemTime;

use clustermanager_core::config::{Environment, Kubeconfig};
use clustermanager_core::{ClusterManager, Config, Error, Orchestrator};
use clustermanager_fake::FakeCluster;

use crate::args::{FakeKind, Global};
use crate::exit::Failure;

/// A connected cluster and the namespace commands work in by default.
pub struct Session {
    /// The manager (over the tokio transport, or the fake's).
    pub cm: ClusterManager,
    /// The namespace commands use unless a line of a script names another.
    pub namespace: String,
    /// The embedded fake cluster, when that is what the commands run on.
    pub fake: Option<FakeCluster>,
    /// Whether it serves one command only (not a script): then the fake's jobs end with it.
    pub one_command: bool,
}

impl Session {
    /// Now, on the calendar the cluster's timestamps use: the system clock, or the fake's own
    /// (which starts at 2026-01-01 and runs in virtual time).
    pub fn wall_clock(&self) -> SystemTime {
        self.fake.as_ref().map_or_else(SystemTime::now, FakeCluster::wall_clock)
    }

    /// Whether the commands run on a fake cluster that ends with this one command.
    pub fn fake_for_one_command(&self) -> bool {
        self.fake.is_some() && self.one_command
    }

    /// What to add to a "not found" error: on a fake for one command, that it started empty.
    pub fn empty_fake_note(&self) -> &'static str {
        if self.fake_for_one_command() {
            " (the embedded fake cluster starts empty for every command: run the commands together with `clustermanager script`)"
        } else {
            ""
        }
    }
}

/// The environment, with `--kubeconfig` standing in for `KUBECONFIG`.
struct Overlay<'a> {
    env: &'a dyn Environment,
    kubeconfig: Option<&'a str>,
}

impl Environment for Overlay<'_> {
    fn var(&self, name: &str) -> Option<String> {
        match (name, self.kubeconfig) {
            ("KUBECONFIG", Some(path)) => Some(path.to_owned()),
            _ => self.env.var(name),
        }
    }

    fn read_file(&self, path: &str) -> std::io::Result<Vec<u8>> {
        self.env.read_file(path)
    }
}

/// What to connect to.
enum Choice {
    Cluster(Box<Config>),
    /// The fake, and whether `--fake` asked for it (else nothing is configured).
    Fake(FakeKind, bool),
}

/// Connect as `global` and `env` say, for one command or (`one_command` false) a script: how long
/// a fake cluster lives, as the line that says a fake is used tells.
pub async fn connect(global: &Global, env: &dyn Environment, one_command: bool) -> Result<Session, Failure> {
    let lifetime = if one_command { "this command" } else { "this script" };
    let env = Overlay { env, kubeconfig: global.kubeconfig.as_deref() };
    let choice = if let Some(kind) = global.fake {
        Choice::Fake(kind, true)
    } else if global.nomad {
        Choice::Cluster(Box::new(Config::from_nomad_env(&env)?))
    } else if global.context.is_some() || global.kubeconfig.is_some() {
        let kubeconfig = Kubeconfig::load(&env)?;
        Choice::Cluster(Box::new(Config::from_kubeconfig(&kubeconfig, global.context.as_deref(), &env)?))
    } else {
        match Config::infer(&env) {
            Ok(config) => Choice::Cluster(Box::new(config)),
            Err(Error::NotConfigured { .. }) => Choice::Fake(FakeKind::Kubernetes, false),
            Err(err) => return Err(err.into()),
        }
    };
    match choice {
        Choice::Cluster(config) => {
            let namespace = global.namespace.clone().or_else(|| config.namespace.clone());
            let cm = clustermanager_tokio::connect(&config).await.map_err(|err| connect_failure(&config, &err))?;
            let namespace = namespace.unwrap_or_else(|| "default".into());
            Ok(Session { cm: cm.erase(), namespace, fake: None, one_command })
        }
        Choice::Fake(kind, asked) => {
            let fake = match kind {
                FakeKind::Kubernetes => FakeCluster::kubernetes(),
                FakeKind::Nomad => FakeCluster::nomad(),
            };
            let name = fake.config().orchestrator.name();
            if asked {
                eprintln!(
                    "clustermanager: on the embedded fake {name} cluster (--fake): it starts empty and lives only as long as {lifetime}"
                );
            } else {
                eprintln!(
                    "clustermanager: no cluster is configured (no KUBECONFIG or ~/.kube/config, not in a pod, no NOMAD_ADDR), \
                     so this runs on the embedded fake {name} cluster, which starts empty and lives only as long as {lifetime}"
                );
            }
            let cm = fake.cluster_manager().await?.erase();
            let namespace = global.namespace.clone().unwrap_or_else(|| "default".into());
            Ok(Session { cm, namespace, fake: Some(fake), one_command })
        }
    }
}

/// A failed connection, naming the server.
fn connect_failure(config: &Config, err: &Error) -> Failure {
    let what = match config.orchestrator {
        Orchestrator::Kubernetes => "the Kubernetes apiserver",
        Orchestrator::Nomad => "the Nomad agent",
    };
    let mut failure = Failure::from(err.clone());
    failure.message = format!("cannot connect to {what} at {}: {}", config.server, failure.message);
    failure
}
