//! [`Looks`]: the paced looks at why a job has not started, as a sans-IO state machine.
//!
//! A wait asks [`Looks::next`] when to look next (an absolute instant, or never again), looks
//! (reads the job's pods, or its evaluations and allocations) and hands the outcome with the
//! time to [`Looks::looked`], which answers what to report and whether the wait must end with
//! [`Error::CannotRun`](crate::Error::CannotRun). The pacing: the first look [`FIRST_LOOK`]
//! after the wait began; then pauses doubling to [`LOOK_MAX`], back to [`FIRST_LOOK`] whenever
//! the reason changes; a failed look is tried again after the same back-off
//! ([`LOOK`](crate::retry::LOOK), named with every other in [`retry`](crate::retry)); a startup or stuck deadline is looked at when it comes. Once an
//! execution has started with nothing wrong, no more looks.

use std::time::{Duration, Instant};

use crate::deadline::later;
use crate::error::Error;
use crate::reason::{Diagnosis, Progress, Reason, ReasonKind};

/// The first look comes this long after the wait began ([`LOOK`](crate::retry::LOOK)).
pub const FIRST_LOOK: Duration = crate::retry::LOOK.initial;
/// The longest pause between two looks.
pub const LOOK_MAX: Duration = crate::retry::LOOK.max;

/// When a wait gives up on a job that has not started (see
/// [`WaitOptions`](crate::WaitOptions)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// End at a permanent reason.
    pub fail_fast: bool,
    /// End when nothing started within this, whatever the reason.
    pub startup_deadline: Option<Duration>,
    /// End when nothing started within this and the reason is not "waiting for room".
    pub stuck_deadline: Option<Duration>,
}

/// What one look means for the wait.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Looked {
    /// What to report, in order.
    pub progress: Vec<Progress>,
    /// The reason the wait must end with (`CannotRun`), if it must.
    pub cannot_run: Option<Reason>,
}

/// The looks of one wait (module docs).
#[derive(Debug)]
pub(crate) struct Looks {
    job: String,
    limits: Limits,
    startup_at: Option<Instant>,
    stuck_at: Option<Instant>,
    /// When the next look is due (`None`: no more looks).
    due: Option<Instant>,
    /// When the last look was made (the wait's start before the first).
    last: Instant,
    pause: Duration,
    failures: u32,
    started: bool,
    reason: Option<Reason>,
}

impl Looks {
    /// The looks of a wait for `job` that began at `began`.
    pub fn new(job: &str, limits: Limits, began: Instant) -> Self {
        let at = |d: Option<Duration>| d.and_then(|d| began.checked_add(d));
        Looks {
            job: job.to_owned(),
            limits,
            startup_at: at(limits.startup_deadline),
            stuck_at: at(limits.stuck_deadline),
            due: Some(later(began, FIRST_LOOK)),
            last: began,
            pause: FIRST_LOOK,
            failures: 0,
            started: false,
            reason: None,
        }
    }

    /// When to look next: the pause's end, or a startup or stuck deadline that comes first
    /// (`None`: no more looks, the job started with nothing wrong).
    pub fn next(&self) -> Option<Instant> {
        let due = self.due?;
        let deadlines = [self.startup_at, self.stuck_at].into_iter().flatten();
        // a deadline that passed after the last look is looked at when it comes
        Some(deadlines.filter(|t| *t > self.last).fold(due, Instant::min))
    }

    /// The last reason seen (for a timeout's message).
    pub fn reason(&self) -> Option<&Reason> {
        self.reason.as_ref()
    }

    /// The outcome of the look made at `now`.
    pub fn looked(&mut self, now: Instant, look: Result<Diagnosis, Error>) -> Looked {
        self.last = now;
        let diagnosis = match look {
            Ok(d) => d,
            Err(err) => {
                self.failures = self.failures.saturating_add(1);
                let delay = crate::retry::LOOK.nth(self.failures);
                tracing::debug!(job = %self.job, error = %err, ?delay, "looking at why the job has not started failed; trying later");
                self.due = Some(later(now, delay));
                return Looked::default();
            }
        };
        self.failures = 0;
        let mut out = Looked::default();
        let changed = self.reason != diagnosis.reason;
        if diagnosis.started && !self.started {
            self.started = true;
            out.progress.push(Progress::Started { job: self.job.clone() });
        }
        if changed {
            out.progress.push(match &diagnosis.reason {
                Some(r) => Progress::Stuck { job: self.job.clone(), reason: r.clone() },
                None => Progress::Unstuck { job: self.job.clone() },
            });
        }
        self.reason.clone_from(&diagnosis.reason);
        let reached = |at: Option<Instant>| at.is_some_and(|t| now >= t);
        out.cannot_run = match diagnosis.reason {
            Some(r) if r.permanent && self.limits.fail_fast => Some(r),
            Some(r) if !self.started && reached(self.stuck_at) && !waits_for_room(&r) => Some(r),
            Some(r) if !self.started && reached(self.startup_at) => Some(r),
            None if !self.started && reached(self.startup_at) => {
                let d = self.limits.startup_deadline.unwrap_or_default();
                Some(Reason::new(
                    ReasonKind::NotStarted,
                    format!("no execution started within {d:?} and the server gave no reason"),
                    false,
                    "startup deadline",
                ))
            }
            _ => None,
        };
        self.pause = if changed { FIRST_LOOK } else { self.pause.saturating_mul(2).min(LOOK_MAX) };
        self.due = if self.started && self.reason.is_none() { None } else { Some(later(now, self.pause)) };
        out
    }
}

/// Whether a reason is only "waiting for room", which the stuck deadline leaves alone.
fn waits_for_room(reason: &Reason) -> bool {
    matches!(reason.kind, ReasonKind::ResourcesExhausted | ReasonKind::QuotaExhausted)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn limits() -> Limits {
        Limits { fail_fast: true, startup_deadline: None, stuck_deadline: Some(300 * S) }
    }

    fn pending(kind: ReasonKind, permanent: bool) -> Diagnosis {
        Diagnosis {
            reason: Some(Reason::new(kind, "the server's words", permanent, "test")),
            started: false,
            executions: 1,
        }
    }

    #[test]
    fn looks_come_one_second_in_then_double_and_restart_when_the_reason_changes() {
        let t0 = Instant::now();
        let mut looks = Looks::new("j", limits(), t0);
        assert_eq!(looks.next(), Some(t0 + S));
        let out = looks.looked(t0 + S, Ok(pending(ReasonKind::ImagePull, false)));
        assert!(matches!(out.progress[..], [Progress::Stuck { .. }]), "{out:?}");
        assert_eq!(looks.next(), Some(t0 + 2 * S), "a new reason: look again after the first pause");
        looks.looked(t0 + 2 * S, Ok(pending(ReasonKind::ImagePull, false)));
        assert_eq!(looks.next(), Some(t0 + 4 * S), "unchanged: the pause doubles");
        let mut t = t0 + 4 * S;
        for _ in 0..10 {
            looks.looked(t, Ok(pending(ReasonKind::ImagePull, false)));
            t = looks.next().unwrap();
        }
        assert!(looks.next().unwrap() - t <= LOOK_MAX);
        let out = looks.looked(t, Ok(pending(ReasonKind::ResourcesExhausted, false)));
        assert!(matches!(out.progress[..], [Progress::Stuck { .. }]));
        assert_eq!(looks.next(), Some(t + FIRST_LOOK));
    }

    #[test]
    fn a_permanent_reason_ends_the_wait_at_once_unless_fail_fast_is_off() {
        let t0 = Instant::now();
        let mut looks = Looks::new("j", limits(), t0);
        let out = looks.looked(t0 + S, Ok(pending(ReasonKind::InvalidImage, true)));
        assert_eq!(out.cannot_run.map(|r| r.kind), Some(ReasonKind::InvalidImage));
        let mut looks = Looks::new("j", Limits { fail_fast: false, ..limits() }, t0);
        assert_eq!(looks.looked(t0 + S, Ok(pending(ReasonKind::InvalidImage, true))).cannot_run, None);
    }

    #[test]
    fn the_stuck_deadline_is_looked_at_when_it_comes_and_spares_waits_for_room() {
        let t0 = Instant::now();
        let lim = Limits { stuck_deadline: Some(10 * S), ..limits() };
        let mut looks = Looks::new("j", lim, t0);
        let mut t = t0 + S;
        while t < t0 + 10 * S {
            assert_eq!(looks.looked(t, Ok(pending(ReasonKind::ImagePull, false))).cannot_run, None);
            t = looks.next().unwrap();
        }
        assert_eq!(t, t0 + 10 * S, "the deadline itself is a look");
        let out = looks.looked(t, Ok(pending(ReasonKind::ImagePull, false)));
        assert_eq!(out.cannot_run.map(|r| r.kind), Some(ReasonKind::ImagePull));
        let mut looks = Looks::new("j", lim, t0);
        looks.looked(t0 + 11 * S, Ok(pending(ReasonKind::QuotaExhausted, false)));
        assert!(looks.next().is_some(), "waiting for room is never cut by the stuck deadline");
    }

    #[test]
    fn a_startup_deadline_without_a_reason_says_nothing_started() {
        let t0 = Instant::now();
        let mut looks = Looks::new("j", Limits { startup_deadline: Some(2 * S), ..limits() }, t0);
        looks.looked(t0 + S, Ok(Diagnosis::default()));
        assert_eq!(looks.next(), Some(t0 + 2 * S));
        let out = looks.looked(t0 + 2 * S, Ok(Diagnosis::default()));
        assert_eq!(out.cannot_run.map(|r| r.kind), Some(ReasonKind::NotStarted));
    }

    #[test]
    fn once_started_with_nothing_wrong_there_are_no_more_looks() {
        let t0 = Instant::now();
        let mut looks = Looks::new("j", limits(), t0);
        let out = looks.looked(t0 + S, Ok(Diagnosis { reason: None, started: true, executions: 1 }));
        assert_eq!(out.progress, [Progress::Started { job: "j".into() }]);
        assert_eq!(looks.next(), None);
    }

    #[test]
    fn a_failed_look_is_tried_again_after_a_growing_back_off() {
        let t0 = Instant::now();
        let mut looks = Looks::new("j", limits(), t0);
        let err = || Err(Error::protocol("connection reset"));
        assert_eq!(looks.looked(t0 + S, err()), Looked::default());
        let first = looks.next().unwrap() - (t0 + S);
        looks.looked(t0 + S + first, err());
        let second = looks.next().unwrap() - (t0 + S + first);
        assert!(second >= first && second <= LOOK_MAX, "{first:?} then {second:?}");
    }
}
