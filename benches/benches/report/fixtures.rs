//! Bodies recorded from real servers (`tests/fixtures/{k8s,nomad}`): a kube-apiserver v1.19
//! Job while its pod runs and once Complete (`acm-08-job-succeeds`), and Nomad 1.1.2's agent,
//! job, summary and allocations of the same batch job running and dead
//! (`01-agent-self`, `08-batch-job-succeeds`, `16-job-list-prefix`).

use serde_json::Value;

fn exchanges(file: &str) -> Vec<Value> {
    let path = format!("{}/../tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    v["exchanges"].as_array().unwrap().clone()
}

fn body(exchange: &Value) -> String {
    exchange["response"]["body"].as_str().unwrap().to_owned()
}

/// The Kubernetes Job `acm-jobs/hello-ok`, recorded.
pub struct K8sJob {
    pub namespace: &'static str,
    pub name: &'static str,
    /// While its pod runs (`status.active: 1`).
    pub running: String,
    /// Complete (`status.succeeded: 1`, condition Complete).
    pub complete: String,
}

pub fn k8s_job() -> K8sJob {
    let ex = exchanges("k8s/acm-08-job-succeeds.json");
    let running = body(&ex[5]);
    let complete = body(&ex[7]);
    assert!(complete.contains("\"succeeded\":1"), "exchange 7 is the Complete job");
    K8sJob { namespace: "acm-jobs", name: "hello-ok", running, complete }
}

/// The Nomad batch job `default/acm-ok`, recorded.
pub struct NomadJob {
    pub namespace: &'static str,
    pub id: &'static str,
    pub agent_self: String,
    pub job_running: String,
    pub job_dead: String,
    pub summary_running: String,
    pub summary_dead: String,
    pub allocations_running: String,
    pub allocations_dead: String,
    /// `/v1/jobs` answers: the job's list stub, running and dead.
    pub list_running: String,
    pub list_dead: String,
}

pub fn nomad_job() -> NomadJob {
    let agent_self = body(&exchanges("nomad/01-agent-self.json")[0]);
    let ex = exchanges("nomad/08-batch-job-succeeds.json");
    let (job_running, job_dead) = (body(&ex[1]), body(&ex[4]));
    let summary_dead = body(&ex[5]);
    let allocations_dead = body(&ex[3]);
    // The recording has no running summary / allocation list; they are the dead ones with the
    // counts and statuses of a running job.
    let summary_running =
        summary_dead.replace("\"Complete\":1", "\"Complete\":0").replace("\"Running\":0", "\"Running\":1");
    let allocations_running = allocations_dead.replace("\"ClientStatus\":\"complete\"", "\"ClientStatus\":\"running\"");
    let list: Vec<Value> = serde_json::from_str(&body(&exchanges("nomad/16-job-list-prefix.json")[0])).unwrap();
    let stub = list.into_iter().find(|s| s["ID"] == "acm-ok").unwrap();
    let list_dead = serde_json::to_string(&[&stub]).unwrap();
    let list_running = list_dead
        .replace("\"Status\":\"dead\"", "\"Status\":\"running\"")
        .replace("\"Complete\":1", "\"Complete\":0")
        .replace("\"Running\":0", "\"Running\":1");
    assert_ne!(list_running, list_dead);
    assert_ne!(summary_running, summary_dead);
    NomadJob {
        namespace: "default",
        id: "acm-ok",
        agent_self,
        job_running,
        job_dead,
        summary_running,
        summary_dead,
        allocations_running,
        allocations_dead,
        list_running,
        list_dead,
    }
}
