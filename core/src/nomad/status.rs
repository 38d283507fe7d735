//! The unified status of Nomad jobs and allocations ([`Status`]), and Nomad's timestamps as
//! RFC 3339.
//!
//! | Nomad | unified |
//! |---|---|
//! | allocation `pending` | `Pending` |
//! | allocation `running` | `Running` |
//! | allocation `complete`, `DesiredStatus` `run` | `Succeeded` |
//! | allocation `complete`, `DesiredStatus` `stop` / `evict` (stopped or killed before it finished) | `Failed` |
//! | allocation `failed`, `lost` | `Failed` |
//! | job `pending` | `Pending` |
//! | job `running` with a running allocation (or summary `Running > 0`) | `Running` |
//! | job `running` with only queued / starting / pending work | `Pending` |
//! | job `dead`, any allocation failed or lost | `Failed` |
//! | job `dead`, every allocation complete and not stopped by the server | `Succeeded` |
//! | job `dead`, an allocation stopped before it finished (`DesiredStatus` stop/evict) | `Failed` |
//! | job `dead` without allocations: summary `Failed + Lost > 0` | `Failed` |
//! | job `dead` without allocations: summary `Complete > 0` | `Succeeded`, else `Failed` |
//! | anything else | `None` (cannot tell) |
//!
//! The allocations judged are those of the job's current run (see
//! [`job`](super::job)): a job registered again under the same ID keeps the allocations of its
//! earlier versions, and its summary counts every version, so a `dead` job is judged by its
//! allocations whenever it has some, and by the summary only when it has none (list stubs,
//! allocations garbage-collected).
//!
//! A job with `Stop = true` is being deleted ([`Job::deleting`](crate::Job)); its status is
//! still derived as above (a stopped job turns `dead`).

use crate::model::Status;

/// A job summary's counts, summed over task groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Allocations waiting for placement.
    pub queued: u32,
    /// Allocations placed, not yet running.
    pub starting: u32,
    /// Allocations running.
    pub running: u32,
    /// Allocations that completed.
    pub complete: u32,
    /// Allocations that failed.
    pub failed: u32,
    /// Allocations lost with their node.
    pub lost: u32,
}

/// What the job mapping needs from one allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocView<'a> {
    /// `ClientStatus`: `pending`, `running`, `complete`, `failed`, `lost`.
    pub client_status: &'a str,
    /// `DesiredStatus`: `run`, `stop`, `evict`.
    pub desired_status: &'a str,
}

/// The unified status of an allocation from its `ClientStatus` and `DesiredStatus`. A
/// `complete` allocation the server asked to stop or evict (job stopped, `delete_execution`,
/// drained node) was killed, not finished: `Failed`, as the job-level rule says.
pub fn allocation_status(alloc: AllocView<'_>) -> Option<Status> {
    match alloc.client_status {
        "pending" => Some(Status::Pending),
        "running" => Some(Status::Running),
        "complete" if matches!(alloc.desired_status, "stop" | "evict") => Some(Status::Failed),
        "complete" => Some(Status::Succeeded),
        "failed" | "lost" => Some(Status::Failed),
        _ => None,
    }
}

/// Whether an allocation's `ClientStatus` is final.
pub fn is_terminal_allocation(client_status: &str) -> bool {
    matches!(client_status, "complete" | "failed" | "lost")
}

/// The unified status of a job from its `Status`, its summary and, when known, its
/// allocations (`None`: not fetched, as for job list stubs).
pub fn job_status(status: &str, counts: &Counts, allocations: Option<&[AllocView<'_>]>) -> Option<Status> {
    let allocs = allocations.unwrap_or(&[]);
    match status {
        "pending" => Some(Status::Pending),
        "running" => {
            let running = counts.running > 0 || allocs.iter().any(|a| a.client_status == "running");
            let waiting =
                counts.queued > 0 || counts.starting > 0 || allocs.iter().any(|a| a.client_status == "pending");
            if !running && waiting {
                Some(Status::Pending)
            } else {
                Some(Status::Running)
            }
        }
        "dead" => {
            if allocs.is_empty() {
                let succeeded = counts.failed == 0 && counts.lost == 0 && counts.complete > 0;
                return Some(if succeeded { Status::Succeeded } else { Status::Failed });
            }
            let all_succeeded = allocs.iter().all(|a| a.client_status == "complete" && a.desired_status == "run");
            Some(if all_succeeded { Status::Succeeded } else { Status::Failed })
        }
        _ => None,
    }
}

/// RFC 3339 (UTC, nanoseconds trimmed of trailing zeros) of a Unix time in nanoseconds, as
/// Nomad gives `SubmitTime`, `CreateTime` and event times. `None` for 0 (unset).
///
/// ```
/// use clustermanager_core::nomad::status::rfc3339_from_nanos;
/// assert_eq!(rfc3339_from_nanos(1_795_638_973_747_576_158).as_deref(), Some("2026-11-25T20:36:13.747576158Z"));
/// assert_eq!(rfc3339_from_nanos(86_400_000_000_000).as_deref(), Some("1970-01-02T00:00:00Z"));
/// ```
pub fn rfc3339_from_nanos(nanos: i64) -> Option<String> {
    if nanos <= 0 {
        return None;
    }
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, (rem % 3600) / 60, rem % 60);
    if frac != 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    out.push('Z');
    Some(out)
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, u32::try_from(m).unwrap_or(1), u32::try_from(d).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CLIENT: [&str; 6] = ["pending", "running", "complete", "failed", "lost", "unknown"];
    const DESIRED: [&str; 3] = ["run", "stop", "evict"];
    const JOB: [&str; 4] = ["pending", "running", "dead", "weird"];

    fn counts() -> impl Strategy<Value = Counts> {
        (0u32..3, 0u32..3, 0u32..3, 0u32..3, 0u32..3, 0u32..3).prop_map(
            |(queued, starting, running, complete, failed, lost)| Counts {
                queued,
                starting,
                running,
                complete,
                failed,
                lost,
            },
        )
    }

    fn allocs() -> impl Strategy<Value = Vec<(usize, usize)>> {
        proptest::collection::vec((0..CLIENT.len(), 0..DESIRED.len()), 0..5)
    }

    fn views(raw: &[(usize, usize)]) -> Vec<AllocView<'static>> {
        raw.iter().map(|&(c, d)| AllocView { client_status: CLIENT[c], desired_status: DESIRED[d] }).collect()
    }

    proptest! {
        #[test]
        fn only_dead_jobs_are_terminal(j in 0..JOB.len(), c in counts(), raw in allocs()) {
            let v = views(&raw);
            let status = job_status(JOB[j], &c, Some(&v));
            prop_assert_eq!(status.is_some_and(Status::is_terminal), JOB[j] == "dead");
            prop_assert_eq!(status.is_none(), JOB[j] == "weird");
        }

        #[test]
        fn a_failure_fails_a_dead_job(c in counts(), raw in allocs()) {
            let v = views(&raw);
            // Allocations, when there are any, decide; the summary only without them.
            let any_failed = if v.is_empty() {
                c.failed + c.lost > 0
            } else {
                v.iter().any(|a| matches!(a.client_status, "failed" | "lost"))
            };
            if any_failed {
                prop_assert_eq!(job_status("dead", &c, Some(&v)), Some(Status::Failed));
            }
        }

        #[test]
        fn succeeded_means_every_allocation_completed(c in counts(), raw in allocs()) {
            let v = views(&raw);
            if job_status("dead", &c, Some(&v)) == Some(Status::Succeeded) {
                prop_assert!(v.iter().all(|a| a.client_status == "complete" && a.desired_status == "run"));
                prop_assert!(!v.is_empty() || (c.complete > 0 && c.failed + c.lost == 0));
            }
        }

        #[test]
        fn running_job_is_running_or_pending(c in counts(), raw in allocs()) {
            let v = views(&raw);
            let s = job_status("running", &c, Some(&v));
            prop_assert!(matches!(s, Some(Status::Running | Status::Pending)));
            if v.iter().any(|a| a.client_status == "running") || c.running > 0 {
                prop_assert_eq!(s, Some(Status::Running));
            }
        }

        #[test]
        fn allocation_mapping_agrees_with_terminality(c in 0..CLIENT.len()) {
            let s = allocation_status(AllocView { client_status: CLIENT[c], desired_status: "run" });
            prop_assert_eq!(s.is_some_and(Status::is_terminal), is_terminal_allocation(CLIENT[c]));
        }

        #[test]
        fn rfc3339_roundtrips_ordering(a in 1i64..4_000_000_000_000_000_000, b in 1i64..4_000_000_000_000_000_000) {
            // Same-width strings order like the instants they name.
            let (sa, sb) = (rfc3339_from_nanos(a.min(b)), rfc3339_from_nanos(a.max(b)));
            let (sa, sb) = (sa.unwrap_or_default(), sb.unwrap_or_default());
            prop_assert!(sa[..19] <= sb[..19]);
        }
    }

    #[test]
    fn recorded_cases() {
        // 09-batch-job-fails: dead, summary Failed=1, alloc failed.
        let failed = [AllocView { client_status: "failed", desired_status: "run" }];
        let c = Counts { failed: 1, ..Counts::default() };
        assert_eq!(job_status("dead", &c, Some(&failed)), Some(Status::Failed));
        // 08-batch-job-succeeds: dead, Complete=1, alloc complete.
        let ok = [AllocView { client_status: "complete", desired_status: "run" }];
        let c = Counts { complete: 1, ..Counts::default() };
        assert_eq!(job_status("dead", &c, Some(&ok)), Some(Status::Succeeded));
        // 15-job-stop-purge: stopped job dead while its alloc is still running (desired stop).
        let stopping = [AllocView { client_status: "running", desired_status: "stop" }];
        let c = Counts { running: 1, ..Counts::default() };
        assert_eq!(job_status("dead", &c, Some(&stopping)), Some(Status::Failed));
        // A job registered again that now succeeded: its summary still counts the earlier
        // version's failure, its current allocations decide.
        let c = Counts { complete: 1, failed: 1, ..Counts::default() };
        assert_eq!(job_status("dead", &c, Some(&ok)), Some(Status::Succeeded));
        assert_eq!(job_status("dead", &c, Some(&[])), Some(Status::Failed));
        // 10 acm-nodriver: pending with a queued allocation.
        let c = Counts { queued: 1, ..Counts::default() };
        assert_eq!(job_status("pending", &c, Some(&[])), Some(Status::Pending));
        assert_eq!(rfc3339_from_nanos(0), None);
    }
}
