//! Every command, run as the built binary on both embedded fake clusters: exit codes, what stdout
//! and stderr say, JSON that parses, no escape codes through a pipe (checked on every run).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

mod common;

use common::{run, run_with, script, FAKES};
use serde_json::Value;

#[test]
fn run_streams_the_log_to_stdout_and_exits_0() {
    for fake in FAKES {
        let out = run(&["--fake", fake, "run", "hello", "--image", "busybox", "--", "echo", "hi"]);
        assert_eq!(out.code, 0, "{fake}: {}", out.all());
        assert_eq!(out.stdout, "hi\n", "{fake}: {}", out.all());
        assert!(out.stderr.contains("on the embedded fake"), "{fake}: says it runs on the fake: {}", out.all());
        assert!(out.stderr.contains("job hello succeeded"), "{fake}: {}", out.all());
    }
}

#[test]
fn run_exits_with_the_jobs_exit_code() {
    for fake in FAKES {
        let out =
            run(&["--fake", fake, "run", "fails", "--image", "busybox", "--", "sh", "-c", "echo about to; exit 3"]);
        assert_eq!(out.code, 3, "{fake}: {}", out.all());
        assert_eq!(out.stdout, "about to\n");
        assert!(out.stderr.contains("job fails failed with exit code 3"), "{fake}: {}", out.all());
    }
}

/// The job that cannot run on each fake: an image name that is not valid (Kubernetes), a task
/// driver no node has (Nomad).
fn cannot_run_args(fake: &str) -> Vec<&'static str> {
    match fake {
        "kubernetes" => vec!["run", "stuck", "--image", "BusyBox", "--", "echo", "hi"],
        _ => vec!["run", "stuck", "--image", "busybox", "--driver", "podman", "--", "echo", "hi"],
    }
}

#[test]
fn a_job_that_cannot_run_exits_126_naming_the_reason_within_2s_of_virtual_time() {
    for (fake, kind, words) in [
        ("kubernetes", "InvalidImage", "the image name is not valid"),
        ("nomad", "MissingDriver", "no node has the podman driver"),
    ] {
        let mut args = vec!["--fake", fake];
        args.extend(cannot_run_args(fake));
        let out = run(&args);
        assert_eq!(out.code, 126, "{fake}: {}", out.all());
        let error = out.stderr.lines().find(|l| l.starts_with("error: ")).expect("an error line");
        assert!(error.contains(words) && error.contains(kind), "{fake}: {error}");
        assert!(error.contains("cannot run"), "{fake}: {error}");

        args.splice(0..0, ["-o", "json"]);
        let out = run(&args);
        assert_eq!(out.code, 126, "{fake}: {}", out.all());
        let events = out.json_lines();
        let end = events.iter().find(|e| e["event"] == "cannot_run").expect("a cannot_run event");
        assert_eq!(end["reason"]["kind"], kind, "{fake}: {end}");
        assert_eq!(end["exit_code"], 126);
        assert!(end["reason"]["message"].as_str().unwrap().contains(words), "{end}");
        let at = end["elapsed_ms"].as_u64().unwrap();
        assert!(at <= 2000, "{fake}: named the reason after {at} ms of virtual time");
    }
}

#[test]
fn run_with_json_output_writes_json_lines() {
    for fake in FAKES {
        let out = run(&[
            "--fake",
            fake,
            "-o",
            "json",
            "run",
            "hello",
            "--image",
            "busybox",
            "--",
            "sh",
            "-c",
            "echo a; exit 4",
        ]);
        assert_eq!(out.code, 4, "{fake}: {}", out.all());
        let events = out.json_lines();
        let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
        assert_eq!(kinds.first(), Some(&"created"), "{kinds:?}");
        assert_eq!(kinds.last(), Some(&"finished"), "{kinds:?}");
        let log: Vec<&Value> = events.iter().filter(|e| e["event"] == "log").collect();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0]["line"], "a");
        let end = events.last().unwrap();
        assert_eq!((end["status"].as_str(), end["exit_code"].as_i64()), (Some("Failed"), Some(4)), "{end}");
        assert!(events.iter().all(|e| e["elapsed_ms"].is_u64()));
    }
}

#[test]
fn run_detach_only_creates_and_timeout_exits_124() {
    for fake in FAKES {
        let out = run(&["--fake", fake, "run", "-d", "bg", "--image", "busybox", "--", "sleep", "60"]);
        assert_eq!((out.code, out.stdout.as_str()), (0, "bg\n"), "{fake}: {}", out.all());
        assert!(out.stderr.contains("ends with this command"), "{fake}: honest about the fake: {}", out.all());

        let out = run(&[
            "--fake",
            fake,
            "run",
            "slow",
            "--image",
            "busybox",
            "--timeout",
            "5s",
            "--",
            "sh",
            "-c",
            "sleep 60",
        ]);
        assert_eq!(out.code, 124, "{fake}: {}", out.all());
        assert!(out.stderr.contains("keeps running"), "{fake}: {}", out.all());
    }
}

#[test]
fn run_rm_deletes_after_and_replace_deletes_before() {
    for fake in FAKES {
        let out = script(
            fake,
            "run once --image busybox --rm -- echo one\nls -o json\n\
             run twice --image busybox -- echo first\nrun twice --image busybox --replace -- echo second\n",
        );
        assert_eq!(out.code, 0, "{fake}: {}", out.all());
        assert!(out.stderr.contains("job once deleted (--rm)"), "{fake}: {}", out.all());
        assert!(out.stdout.starts_with("one\n[]\nfirst\nsecond\n"), "{fake}: {}", out.all());

        let out = script(fake, "run twice --image busybox -- echo first\nrun twice --image busybox -- echo again\n");
        assert_eq!(out.code, 125, "{fake}: {}", out.all());
        assert!(out.stderr.contains("already exists") && out.stderr.contains("--replace"), "{fake}: {}", out.all());
    }
}

#[test]
fn wait_exits_with_the_jobs_exit_code_and_a_missing_job_says_the_fake_started_empty() {
    for fake in FAKES {
        let out = script(fake, "run -d w --image busybox -- sh -c 'sleep 30; exit 7'\nwait w\n");
        assert_eq!(out.code, 7, "{fake}: {}", out.all());
        assert!(out.stderr.contains("job w failed with exit code 7"), "{fake}: {}", out.all());

        let out = script(fake, "run -d w --image busybox -- sh -c 'sleep 30'\nwait w -o json\n");
        assert_eq!(out.code, 0, "{fake}: {}", out.all());
        let end: Value = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
        assert_eq!((end["event"].as_str(), end["status"].as_str()), (Some("finished"), Some("Succeeded")));

        let out = run(&["--fake", fake, "wait", "nope"]);
        assert_eq!(out.code, 125, "{fake}: {}", out.all());
        assert!(out.stderr.contains("starts empty for every command"), "{fake}: {}", out.all());
        assert_eq!(out.stderr.lines().filter(|l| l.starts_with("error: ")).count(), 1, "{}", out.all());
    }
}

#[test]
fn logs_of_a_job_or_an_execution_with_tail_and_follow() {
    for fake in FAKES {
        let job = "run -d l --image busybox -- sh -c 'echo one; echo two; sleep 5; echo three'\n";
        let out = script(fake, &format!("{job}logs -f l\n"));
        assert_eq!(out.code, 0, "{fake}: {}", out.all());
        assert_eq!(out.stdout, "l\none\ntwo\nthree\n", "{fake}: {}", out.all());

        let out = script(fake, &format!("{job}wait l\nlogs l --tail 2\nlogs l -o json\n"));
        assert_eq!(out.code, 0, "{fake}: {}", out.all());
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(&lines[..3], ["l", "two", "three"], "{fake}: {}", out.all());
        let events: Vec<Value> = lines[3..].iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        let texts: Vec<&str> = events.iter().map(|e| e["line"].as_str().unwrap()).collect();
        assert_eq!(texts, ["one", "two", "three"]);

        // by the execution's own name
        let out = script(fake, &format!("{job}wait l\nget l -o json\n"));
        let doc: Value = serde_json::from_str(out.stdout.split_once('\n').unwrap().1).unwrap();
        let id = doc["executions"][0]["id"].as_str().unwrap().to_owned();
        let out = script(fake, &format!("{job}wait l\nlogs {id}\n"));
        assert_eq!(out.stdout, "l\none\ntwo\nthree\n", "{fake}: {}", out.all());

        let out = run(&["--fake", fake, "logs", "nope"]);
        assert_eq!(out.code, 125, "{fake}: {}", out.all());
        assert!(out.stderr.contains("no job or execution named nope"), "{fake}: {}", out.all());
    }
}

#[test]
fn ls_and_get_in_text_json_and_yaml() {
    for fake in FAKES {
        let setup = "run ok --image busybox -- echo fine\nrun -d bad --image busybox -- sh -c 'exit 2'\n";
        let out = script(fake, &format!("{setup}ls\n"));
        assert_eq!(out.code, 0, "{fake}: {}", out.all());
        let table: Vec<&str> = out.stdout.lines().skip(2).collect();
        assert!(
            table[0].starts_with("NAME")
                && table[0].contains("STATUS")
                && table[0].contains("EXECUTIONS")
                && table[0].contains("AGE")
        );
        assert!(table.iter().any(|l| l.starts_with("ok ") && l.contains("Succeeded")), "{fake}: {table:?}");
        assert!(table.iter().any(|l| l.starts_with("bad ")), "{fake}: {table:?}");

        let out = script(fake, &format!("{setup}ls -o json\n"));
        let jobs: Value = serde_json::from_str(out.stdout.split_once("bad\n").unwrap().1).unwrap();
        let names: Vec<&str> = jobs.as_array().unwrap().iter().map(|j| j["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"ok") && names.contains(&"bad"), "{fake}: {names:?}");
        assert!(jobs.as_array().unwrap().iter().all(|j| j["execution_count"].is_u64() && j["age_seconds"].is_u64()));

        let out = script(fake, "run ok --image busybox -- echo fine\nget ok -o json\n");
        let doc: Value = serde_json::from_str(out.stdout.split_once("fine\n").unwrap().1).unwrap();
        assert_eq!((doc["status"].as_str(), doc["exit_code"].as_i64()), (Some("Succeeded"), Some(0)), "{doc}");
        assert_eq!(doc["executions"].as_array().unwrap().len(), 1);

        let out = script(fake, "run ok --image busybox -- echo fine\nget ok -o yaml\nget ok\n");
        assert!(
            out.stdout.contains("\nname: ok\n") && out.stdout.contains("status: Succeeded"),
            "{fake}: {}",
            out.all()
        );
        assert!(
            out.stdout.contains("Name:        ok") && out.stdout.contains("Exit code:   0"),
            "{fake}: {}",
            out.all()
        );

        let out = run(&["--fake", fake, "ls"]);
        assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{fake}: {}", out.all());
        assert!(
            out.stderr.contains("No jobs in namespace default") && out.stderr.contains("starts empty"),
            "{}",
            out.all()
        );
        let out = run(&["--fake", fake, "-o", "json", "ls"]);
        assert_eq!(out.json(), Value::Array(Vec::new()));
        let out = run(&["--fake", fake, "get", "nope"]);
        assert_eq!(out.code, 125, "{fake}: {}", out.all());
        assert!(out.stderr.contains("job nope not found in namespace default"), "{fake}: {}", out.all());
    }
}

#[test]
fn why_names_the_reason_and_since_when() {
    for (fake, kind) in [("kubernetes", "InvalidImage"), ("nomad", "MissingDriver")] {
        let mut create = cannot_run_args(fake).join(" ").replacen("run stuck", "run -d stuck", 1);
        create.push('\n');
        let out = script(fake, &format!("{create}why stuck\nwhy stuck -o json\n"));
        assert_eq!(out.code, 0, "{fake}: {}", out.all());
        let (text, json) = out.stdout.split_once("\n{").unwrap();
        assert!(text.contains("job stuck has not started"), "{fake}: {text}");
        assert!(text.contains(&format!("reason:   {kind} (permanent")), "{fake}: {text}");
        assert!(text.contains("server:   "), "{fake}: {text}");
        assert!(text.contains("since:    2026-01-01T00:00:00Z"), "{fake}: {text}");
        let doc: Value = serde_json::from_str(&format!("{{{json}")).unwrap();
        assert_eq!(doc["reason"]["kind"], kind);
        assert_eq!(doc["pending_since"], "2026-01-01T00:00:00Z");

        let out = script(fake, "run ok --image busybox -- echo fine\nwhy ok\n");
        assert!(out.stdout.contains("job ok succeeded: nothing is wrong"), "{fake}: {}", out.all());
        let out = script(fake, "run -d bad --image busybox -- sh -c 'exit 5'\nwait bad --timeout 1m\nls\n");
        assert_eq!(out.code, 5, "{fake}: the script stops at the first command that fails: {}", out.all());
    }
}

#[test]
fn rm_deletes_jobs_and_says_which_were_not_there() {
    for fake in FAKES {
        let out = script(fake, "run a --image busybox -- true\nrun b --image busybox -- true\nrm a b\nls -o json\n");
        assert_eq!(out.code, 0, "{fake}: {}", out.all());
        assert!(out.stdout.contains("job a deleted\njob b deleted\n[]"), "{fake}: {}", out.all());

        let out = run(&["--fake", fake, "rm", "nope"]);
        assert_eq!(out.code, 125, "{fake}: {}", out.all());
        assert!(out.stderr.contains("job nope not found"), "{}", out.all());
        let out = run(&["--fake", fake, "rm", "nope", "--ignore-not-found", "-o", "json"]);
        assert_eq!(out.code, 0, "{}", out.all());
        assert_eq!(out.json()[0]["deleted"], false);
    }
}

#[test]
fn nodes_and_namespaces() {
    for fake in FAKES {
        let out = run(&["--fake", fake, "nodes"]);
        assert_eq!(out.code, 0, "{fake}: {}", out.all());
        assert!(out.stdout.starts_with("NAME") && out.stdout.contains("READY"), "{}", out.all());
        let nodes = run(&["--fake", fake, "nodes", "-o", "json"]).json();
        assert_eq!(nodes[0]["ready"], true, "{nodes}");
        if fake == "nomad" {
            assert!(out.stdout.contains("docker,exec,raw_exec"), "{}", out.all());
        }

        let out = script(fake, "ns create batch\nns create batch\nns ls\nns delete batch\nns ls -o json\n");
        assert_eq!(out.code, 0, "{fake}: {}", out.all());
        assert!(out.stdout.contains("namespace batch created\nnamespace batch already exists\n"), "{}", out.all());
        assert!(out.stdout.lines().any(|l| l.starts_with("batch ") && l.contains("Active")), "{}", out.all());
        assert!(out.stdout.contains("namespace batch deleted\n"), "{}", out.all());
        let list: Value = serde_json::from_str(out.stdout.split_once("deleted\n").unwrap().1).unwrap();
        let names: Vec<&str> = list.as_array().unwrap().iter().map(|n| n["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"default") && !names.contains(&"batch"), "{fake}: {names:?}");

        // a job in another namespace
        let out =
            script(fake, "ns create batch\nrun -n batch j --image busybox -- echo in-batch\nls -n batch -o json\n");
        assert_eq!(out.code, 0, "{fake}: {}", out.all());
        assert!(out.stdout.contains("\"namespace\": \"batch\""), "{}", out.all());
    }
}

#[test]
fn deploy_and_scale() {
    for fake in FAKES {
        let out = script(fake, "deploy web --image nginx:1.27 --replicas 2\nscale web 3\n");
        assert_eq!(out.code, 0, "{fake}: {}", out.all());
        assert!(out.stdout.contains("deployment web available: 2/2 replicas available"), "{fake}: {}", out.all());
        assert!(out.stdout.contains("web scaled to 3 replicas (there were 2)"), "{fake}: {}", out.all());
        let out = script(fake, "deploy web --image nginx:1.27 -o json\nscale web 1 -o json\n");
        assert_eq!(out.code, 0, "{fake}: {}", out.all());
        let docs: Vec<Value> =
            serde_json::Deserializer::from_str(&out.stdout).into_iter().map(Result::unwrap).collect();
        assert_eq!(docs.len(), 2, "{fake}: {}", out.all());
        assert_eq!(docs[0]["is_available"], true, "{}", docs[0]);
        assert_eq!(docs[1]["desired"], 1, "{}", docs[1]);

        let out = run(&["--fake", fake, "deploy", "web", "--image", "nginx", "-o", "json"]);
        assert_eq!(out.code, 0, "{fake}: {}", out.all());
        assert_eq!(out.json()["is_available"], true);

        let out = run(&["--fake", fake, "scale", "nope", "2"]);
        assert_eq!(out.code, 125, "{fake}: {}", out.all());
        assert!(out.stderr.contains("deployment nope not found"), "{fake}: {}", out.all());
    }
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.all());
        assert!(out.stdout.contains("clustermanager") && out.stdout.contains("startup-deadline"), "{shell}");
        assert!(!out.stderr.contains("fake"), "completions need no cluster: {}", out.all());
    }
}

#[test]
fn help_has_an_example_per_command_and_the_exit_codes() {
    let out = run(&["--help"]);
    assert_eq!(out.code, 0);
    for word in ["Exit codes:", "124", "125", "126", "130", "alias cm=clustermanager", "clustermanager script"] {
        assert!(out.stdout.contains(word), "--help lacks {word:?}:\n{}", out.stdout);
    }
    let commands = [
        "run",
        "wait",
        "logs",
        "ls",
        "get",
        "rm",
        "why",
        "nodes",
        "ns",
        "ns create",
        "ns delete",
        "ns ls",
        "deploy",
        "scale",
        "script",
        "completions",
    ];
    for command in commands {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("--help");
        let out = run(&args);
        assert_eq!(out.code, 0, "{command}: {}", out.all());
        assert!(out.stdout.contains("Example"), "`{command} --help` has no example:\n{}", out.stdout);
        assert!(out.stdout.contains("clustermanager "), "{command}");
    }
}

#[test]
fn usage_errors_are_one_line_with_what_to_do() {
    for args in [vec!["run"], vec!["--fake", "nomad", "frobnicate"], vec!["run", "x", "--timeout", "soon"]] {
        let out = run(&args);
        assert_eq!(out.code, 125, "{args:?}: {}", out.all());
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.all());
        assert!(out.stderr.starts_with("error: ") && out.stderr.contains("--help"), "{}", out.all());
    }
    let out = run(&["--fake", "run", "x", "-o", "yaml"]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(out.stderr.contains("-o json"), "{}", out.all());
    let out = run_with(&["--fake", "script"], &[], "--fake nomad ls\n");
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(out.stderr.contains("go on `clustermanager script` itself"), "{}", out.all());
}
