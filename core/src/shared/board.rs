//! The board of one shared observation: who waits for which job, and what each waiter is owed
//! once the namespace's feed reports a change. Pure state, no I/O and no clock: the driver
//! feeds it [`Change`]s and the time, and it answers which waiters to wake.
//!
//! It keeps nothing for jobs nobody waits for, and for a waited-for job only the uid it is bound
//! to and the last state seen (for the timeout message): a namespace with 10,000 jobs costs the
//! feed's decoding of their events, not 10,000 entries.
//!
//! **Who may be decided by a list.** A list answers with the state at the time it was *sent*.
//! A waiter that joined before a list was sent ([`Board::list_sent`]) is covered by it: absent
//! from it means the job does not exist. A waiter that joined later (the observation was
//! already running) is not: its job may have been created after that list, so it reads the job
//! itself once ([`Join::Read`], then [`Board::read`]) and from then on follows the feed's events.
//! Only the first waiter of a fresh observation, and those that join before its first list goes
//! out, skip that read: a single wait costs what it cost on its own.

use std::collections::HashMap;
use std::time::Instant;

use super::observed::{index, Counts, Observation};
use crate::deadline::Deadline;
use crate::error::Error;
use crate::model::{Execution, Job, Status};

/// Names one waiter on a [`Board`].
pub type WaiterId = u64;

/// What the feed reports, of items `I` (see [`Observation`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Change<I> {
    /// Every item of the namespace, as of the last list sent.
    Listed(Vec<I>),
    /// An item was created or changed.
    Upserted(I),
    /// An item was deleted (its last state).
    Deleted(I),
}

/// How a waiter joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// The observation's first list is still to be sent: it tells whether the job exists.
    Covered,
    /// The observation is running: read the job once ([`Board::read`]).
    Read,
}

/// What a waiter waits for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Want {
    /// The job to finish (`wait_for_job`).
    #[default]
    Finish,
    /// An execution of the job in one of these statuses (`wait_for_job_execution_status`).
    /// The feed only says how many executions are in each status (a Nomad list stub's
    /// `JobSummary`, summed into the job's counts): when those counts change and one of the
    /// wanted statuses has any, the waiter is owed [`Outcome::Check`] and reads the job's
    /// executions itself; its read answers with `terminal` set when it found one.
    Executions(Vec<Status>),
}

impl Want {
    /// Whether `counts` has an execution in a wanted status.
    fn any_in(&self, counts: Counts) -> bool {
        let Want::Executions(statuses) = self else { return false };
        statuses.iter().any(|s| counts[index(*s)] > 0)
    }
}

/// What a waiter's own read (a job waiter: an item `I`) or look (an execution waiter) answered.
// one per waiter's read, handed over at once: not worth a box
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Read<I> {
    /// The job as read.
    Job(I),
    /// An execution waiter's look at its job: the job's uid (empty where the orchestrator has
    /// none) and the execution in a wanted status it found, if any.
    Executions {
        /// The job's uid.
        uid: String,
        /// The execution found, which the wait returns.
        found: Option<Execution>,
    },
    /// The job does not exist (or is being deleted).
    Gone,
}

/// What a waiter is owed.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The job finished: the wait returns it.
    Finished(Job),
    /// An execution waiter's look found an execution in a wanted status: the wait returns it.
    Found(Execution),
    /// The feed saw the job finish without the full answer: read it once more.
    Check,
    /// The job does not exist (`existed: false`) or was deleted while waiting.
    Gone {
        /// Whether the waiter saw the job before it went.
        existed: bool,
    },
    /// The waiter's deadline passed.
    TimedOut,
    /// The observation failed in a way that cannot be resumed (forbidden, bad request, ...).
    Failed(Error),
}

#[derive(Debug)]
struct Waiter<I> {
    name: String,
    /// `lists_sent` when the waiter joined.
    since: u64,
    uid: Option<String>,
    /// Whether the job was ever seen (by the feed or the waiter's read).
    existed: bool,
    last: Option<Job>,
    deadline: Deadline,
    outcome: Option<Outcome>,
    /// The last event of the job's name before the waiter was bound to a uid (its read was out).
    early_upsert: Option<I>,
    /// The uid of the last deletion of the job's name before the waiter was bound.
    early_delete: Option<String>,
    /// Its outcome was taken: the wait is over.
    over: bool,
    want: Want,
    /// The execution counts last seen ([`Want::Executions`] waiters).
    counts: Option<Counts>,
}

impl<I> Waiter<I> {
    /// Still to be decided.
    fn open(&self) -> bool {
        self.outcome.is_none() && !self.over
    }
}

/// The waiters of one shared observation of `O` (see the module docs).
#[derive(Debug)]
pub struct Board<O: Observation> {
    waiters: HashMap<WaiterId, Waiter<O::Item>>,
    by_name: HashMap<String, Vec<WaiterId>>,
    next: WaiterId,
    lists_sent: u64,
}

impl<O: Observation> Default for Board<O> {
    fn default() -> Self {
        Board { waiters: HashMap::new(), by_name: HashMap::new(), next: 0, lists_sent: 0 }
    }
}

impl<O: Observation> Board<O> {
    /// An empty board of an observation that has not listed yet.
    pub fn new() -> Self {
        Board::default()
    }

    /// A waiter for job `name` to finish until `deadline` (started by the caller).
    #[cfg(test)]
    pub fn join(&mut self, name: &str, deadline: Deadline) -> (WaiterId, Join) {
        self.join_wanting(name, deadline, Want::Finish)
    }

    /// A waiter for what `want` says of job `name` until `deadline`.
    pub fn join_wanting(&mut self, name: &str, deadline: Deadline, want: Want) -> (WaiterId, Join) {
        let id = self.next;
        self.next = self.next.wrapping_add(1);
        let join = if self.lists_sent == 0 { Join::Covered } else { Join::Read };
        self.waiters.insert(
            id,
            Waiter {
                name: name.to_owned(),
                since: self.lists_sent,
                uid: None,
                existed: false,
                last: None,
                deadline,
                outcome: None,
                early_upsert: None,
                early_delete: None,
                over: false,
                want,
                counts: None,
            },
        );
        self.by_name.entry(name.to_owned()).or_default().push(id);
        (id, join)
    }

    /// The waiter is gone (returned, timed out or dropped).
    pub fn leave(&mut self, id: WaiterId) {
        let Some(w) = self.waiters.remove(&id) else { return };
        if let Some(ids) = self.by_name.get_mut(&w.name) {
            ids.retain(|&other| other != id);
            if ids.is_empty() {
                self.by_name.remove(&w.name);
            }
        }
    }

    #[cfg(test)]
    /// How many waiters there are.
    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    #[cfg(test)]
    /// Whether no one waits.
    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    /// The feed is sending a list now: it covers every waiter that joined before.
    pub fn list_sent(&mut self) {
        self.lists_sent = self.lists_sent.saturating_add(1);
    }

    /// Take what the feed reported; the waiters it decided, to wake.
    pub fn apply(&mut self, change: Change<O::Item>) -> Vec<WaiterId> {
        let mut woken = Vec::new();
        match &change {
            Change::Upserted(seen) => self.keep_for_checking(seen),
            Change::Listed(items) => items.iter().for_each(|seen| self.keep_for_checking(seen)),
            Change::Deleted(_) => {}
        }
        match change {
            Change::Upserted(seen) => self.each(O::name(&seen), &mut woken, |w| match &w.uid {
                Some(_) => judge::<O>(w, &seen),
                // not bound yet (its read is out): kept for when it is
                None => keep_early::<O>(w, &seen),
            }),
            Change::Deleted(seen) => self.each(O::name(&seen), &mut woken, |w| match &w.uid {
                Some(uid) if uid == O::uid(&seen) => {
                    // a job deleted ends the wait; an execution deleted asks for a look (its
                    // job may still be there)
                    w.outcome = Some(if O::DELETION_IS_GONE { Outcome::Gone { existed: true } } else { Outcome::Check })
                }
                Some(_) => {}
                None => w.early_delete = Some(O::uid(&seen).to_owned()),
            }),
            Change::Listed(items) => {
                let epoch = self.lists_sent;
                let mut present: HashMap<&str, Vec<&O::Item>> = HashMap::new();
                for seen in &items {
                    present.entry(O::name(seen)).or_default().push(seen);
                }
                for (id, w) in self.waiters.iter_mut().filter(|(_, w)| w.open()) {
                    let covered = w.since < epoch;
                    let executions = matches!(w.want, Want::Executions(_));
                    match present.get(w.name.as_str()) {
                        // an execution waiter whose first look is out: judged once it is in
                        Some(seen) if executions && w.uid.is_none() => seen.iter().for_each(|s| keep_early::<O>(w, s)),
                        Some(seen) if executions => {
                            let uid = w.uid.clone().unwrap_or_default();
                            for s in seen.iter().filter(|s| O::uid(s) == uid) {
                                judge::<O>(w, s);
                                if w.outcome.is_some() {
                                    break;
                                }
                            }
                        }
                        Some(seen) => {
                            for s in seen {
                                if covered || w.uid.as_deref().is_some_and(|u| !u.is_empty() && u == O::uid(s)) {
                                    judge::<O>(w, s)
                                }
                            }
                        }
                        None if covered && O::ABSENT_IS_GONE => w.outcome = Some(Outcome::Gone { existed: w.existed }),
                        _ => {}
                    }
                    if w.outcome.is_some() {
                        woken.push(*id);
                    }
                }
            }
        }
        woken
    }

    /// What waiter `id`'s own read said (`None`: the job does not exist). `true` if that decided
    /// the wait.
    pub fn read(&mut self, id: WaiterId, read: Read<O::Item>) -> bool {
        let Some(w) = self.waiters.get_mut(&id) else { return false };
        if matches!(w.outcome, Some(Outcome::Check)) {
            w.outcome = None;
        }
        if !w.open() {
            return true;
        }
        let of_executions = matches!(w.want, Want::Executions(_));
        match (read, of_executions) {
            (Read::Executions { uid, found }, true) => {
                // an execution waiter's look; its uid is the job's
                if w.uid.is_none() || !uid.is_empty() {
                    w.uid = Some(uid.clone());
                }
                w.existed = true;
                if let Some(execution) = found {
                    w.outcome = Some(Outcome::Found(execution));
                    return true;
                }
                if let Some(early) = w.early_upsert.take() {
                    judge::<O>(w, &early);
                }
                // a pod deleted meanwhile: look again (the job may be gone)
                if w.early_delete.take().is_some_and(|deleted| deleted == uid) && w.outcome.is_none() {
                    w.outcome = Some(Outcome::Check);
                }
            }
            (Read::Executions { .. }, false) | (Read::Job(_), true) => {
                w.outcome =
                    Some(Outcome::Failed(Error::protocol("a waiter's read answered for the other kind of wait")));
            }
            (Read::Job(seen), false) => {
                judge::<O>(w, &seen);
                // what the feed said of this job while the read was out is newer than the read
                if let Some(early) = w.early_upsert.take().filter(|e| O::uid(e) == O::uid(&seen)) {
                    if w.outcome.is_none() {
                        judge::<O>(w, &early);
                    }
                }
                if w.early_delete.take().is_some_and(|uid| uid == O::uid(&seen)) && w.outcome.is_none() {
                    w.outcome = Some(Outcome::Gone { existed: true });
                }
            }
            (Read::Gone, _) => w.outcome = Some(Outcome::Gone { existed: w.existed }),
        }
        w.outcome.is_some()
    }

    /// Every undecided waiter is owed `err` (the feed cannot go on); all of them, to wake.
    pub fn fail(&mut self, err: &Error) -> Vec<WaiterId> {
        let mut woken = Vec::new();
        for (id, w) in self.waiters.iter_mut().filter(|(_, w)| w.open()) {
            w.outcome = Some(Outcome::Failed(err.clone()));
            woken.push(*id);
        }
        woken
    }

    /// The waiters whose deadline has passed at `now` are owed [`Outcome::TimedOut`]; them, to wake.
    pub fn expire(&mut self, now: Instant) -> Vec<WaiterId> {
        let mut woken = Vec::new();
        for (id, w) in self.waiters.iter_mut().filter(|(_, w)| w.open()) {
            if w.deadline.passed(now) {
                w.outcome = Some(Outcome::TimedOut);
                woken.push(*id);
            }
        }
        woken
    }

    /// The earliest deadline of the undecided waiters (`None`: none has one).
    /// Whoever drives the feed bounds each step by it, so that no waiter outlives its deadline.
    pub fn horizon(&self) -> Option<Instant> {
        self.waiters.values().filter(|w| w.open()).filter_map(|w| w.deadline.at()).min()
    }

    /// Whether waiter `id` is owed something (or is unknown).
    pub fn decided(&self, id: WaiterId) -> bool {
        self.waiters.get(&id).is_none_or(|w| !w.open())
    }

    /// What waiter `id` is owed, once: the next call answers `None` (until the next decision).
    pub fn take(&mut self, id: WaiterId) -> Option<Outcome> {
        let w = self.waiters.get_mut(&id)?;
        match w.outcome {
            // kept until the waiter's read answers (`read` clears it)
            Some(Outcome::Check) => Some(Outcome::Check),
            Some(_) => {
                w.over = true;
                w.outcome.take()
            }
            None => None,
        }
    }

    /// What waiter `id` waits for.
    pub fn want_of(&self, id: WaiterId) -> Option<&Want> {
        self.waiters.get(&id).map(|w| &w.want)
    }

    /// The last state seen of waiter `id`'s job (for a timeout's message).
    pub fn last_seen(&self, id: WaiterId) -> Option<&Job> {
        self.waiters.get(&id)?.last.as_ref()
    }

    /// An execution waiter whose read is out ([`Outcome::Check`]) keeps what the feed says of
    /// its job meanwhile: its read may have been answered before this, and the counts that
    /// changed since are judged once the read is in.
    fn keep_for_checking(&mut self, seen: &O::Item) {
        let Some(ids) = self.by_name.get(O::name(seen)) else { return };
        for id in ids {
            if let Some(w) = self.waiters.get_mut(id) {
                if !w.over && matches!(w.outcome, Some(Outcome::Check)) && matches!(w.want, Want::Executions(_)) {
                    keep_early::<O>(w, seen);
                }
            }
        }
    }

    fn each(&mut self, name: &str, woken: &mut Vec<WaiterId>, mut f: impl FnMut(&mut Waiter<O::Item>)) {
        let Some(ids) = self.by_name.get(name) else { return };
        for id in ids {
            if let Some(w) = self.waiters.get_mut(id).filter(|w| w.open()) {
                f(w);
                if w.outcome.is_some() {
                    woken.push(*id);
                }
            }
        }
    }
}

/// Keep what the feed said of the job while the waiter's read is out. An execution waiter keeps
/// one in a wanted status over a later one that is not (a pod that ran, then another that
/// waits, must not hide the first from it); a job waiter keeps the latest.
fn keep_early<O: Observation>(w: &mut Waiter<O::Item>, seen: &O::Item) {
    let wanted = |s: &O::Item| w.want.any_in(O::counts(s));
    if matches!(w.want, Want::Finish) || w.early_upsert.as_ref().is_none_or(|e| wanted(seen) || !wanted(e)) {
        w.early_upsert = Some(seen.clone());
    }
}

/// A state of the waiter's job: bind the uid at first sight (another uid is another job of the
/// same name, ignored), remember it, decide when it has finished.
fn judge<O: Observation>(w: &mut Waiter<O::Item>, seen: &O::Item) {
    let seen_uid = O::uid(seen);
    match &w.uid {
        Some(uid) if !uid.is_empty() && !seen_uid.is_empty() && uid != seen_uid => return,
        Some(_) => {}
        None => w.uid = Some(seen_uid.to_owned()),
    }
    w.existed = true;
    let job = O::job(seen);
    if let Some(job) = job {
        w.last = Some(job.job.clone());
    }
    if matches!(w.want, Want::Executions(_)) {
        if O::gone(seen) {
            // the job is gone for this execution (orphaned, seen in a list): look
            w.outcome = Some(Outcome::Check);
            return;
        }
        let counts = O::counts(seen);
        if w.counts != Some(counts) {
            w.counts = Some(counts);
            if w.want.any_in(counts) {
                w.outcome = Some(Outcome::Check);
            }
        }
        return;
    }
    match job {
        Some(seen) if seen.terminal => {
            w.outcome = Some(if seen.settled { Outcome::Finished(seen.job.clone()) } else { Outcome::Check });
        }
        Some(_) => {}
        None => {
            w.outcome =
                Some(Outcome::Failed(Error::protocol("a wait for a job to finish on an observation of executions")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::observed::{ExecutionSeen, Executions, JobSeen, Jobs};
    use std::time::Duration;

    fn seen(name: &str, uid: &str, status: Option<Status>) -> JobSeen {
        let job = Job { name: name.into(), status, ..Job::default() };
        JobSeen {
            name: name.into(),
            uid: uid.into(),
            terminal: status.is_some_and(Status::is_terminal),
            settled: true,
            job,
        }
    }

    fn started(timeout: Option<Duration>, now: Instant) -> Deadline {
        let mut d = Deadline::new(timeout);
        d.start(now);
        d
    }

    #[test]
    fn the_first_list_decides_the_waiters_that_joined_before_it_was_sent() {
        let now = Instant::now();
        let mut board = Board::<Jobs>::new();
        let (a, ja) = board.join("a", started(None, now));
        let (b, jb) = board.join("b", started(None, now));
        let (c, jc) = board.join("c", started(None, now));
        assert_eq!((ja, jb, jc), (Join::Covered, Join::Covered, Join::Covered));
        board.list_sent();
        let woken = board.apply(Change::Listed(vec![
            seen("a", "u-a", Some(Status::Running)),
            seen("b", "u-b", Some(Status::Succeeded)),
        ]));
        assert_eq!(woken.len(), 2);
        assert!(woken.contains(&b) && woken.contains(&c));
        assert!(matches!(board.take(b), Some(Outcome::Finished(j)) if j.name == "b"));
        assert!(matches!(board.take(c), Some(Outcome::Gone { existed: false })));
        assert!(board.take(a).is_none());
        // `a` finishes on a watch event
        let woken = board.apply(Change::Upserted(seen("a", "u-a", Some(Status::Failed))));
        assert_eq!(woken, vec![a]);
        assert!(matches!(board.take(a), Some(Outcome::Finished(j)) if j.status == Some(Status::Failed)));
    }

    #[test]
    fn a_waiter_that_joins_a_running_observation_reads_and_is_not_decided_by_an_older_list() {
        let now = Instant::now();
        let mut board = Board::<Jobs>::new();
        let (first, _) = board.join("a", started(None, now));
        board.list_sent();
        // joined while the list was in flight: its job may be newer than that list
        let (late, join) = board.join("new", started(None, now));
        assert_eq!(join, Join::Read);
        let woken = board.apply(Change::Listed(vec![seen("a", "u-a", Some(Status::Running))]));
        assert!(woken.is_empty(), "the older list says nothing of `new`: {woken:?}");
        assert!(!board.decided(first) && !board.decided(late));
        assert!(!board.read(late, Read::Job(seen("new", "u-n", Some(Status::Pending)))));
        // the next list (sent after it joined) covers it
        board.list_sent();
        let mut woken = board.apply(Change::Listed(vec![]));
        woken.sort_unstable();
        assert_eq!(woken, vec![first, late]);
        assert!(matches!(board.take(late), Some(Outcome::Gone { existed: true })));
    }

    #[test]
    fn events_that_arrive_before_the_waiters_read_answers_are_kept_for_the_job_it_binds_to() {
        let now = Instant::now();
        let mut board = Board::<Jobs>::new();
        board.list_sent();
        let (w, _) = board.join("x", started(None, now));
        // an older job of the same name goes, the new one finishes, then the read answers
        assert!(board.apply(Change::Upserted(seen("x", "old", Some(Status::Running)))).is_empty());
        assert!(board.apply(Change::Deleted(seen("x", "old", Some(Status::Running)))).is_empty());
        assert!(board.apply(Change::Upserted(seen("x", "new", Some(Status::Succeeded)))).is_empty());
        assert!(board.read(w, Read::Job(seen("x", "new", Some(Status::Running)))));
        assert!(matches!(board.take(w), Some(Outcome::Finished(j)) if j.status == Some(Status::Succeeded)));
    }

    #[test]
    fn a_read_that_finds_nothing_is_not_found() {
        let now = Instant::now();
        let mut board = Board::<Jobs>::new();
        board.list_sent();
        let (w, _) = board.join("x", started(None, now));
        assert!(board.read(w, Read::Gone));
        assert!(matches!(board.take(w), Some(Outcome::Gone { existed: false })));
    }

    #[test]
    fn deletion_of_the_bound_job_ends_its_waiters_but_not_of_an_older_one_of_the_same_name() {
        let now = Instant::now();
        let mut board = Board::<Jobs>::new();
        board.list_sent();
        let (w, _) = board.join("x", started(None, now));
        assert!(!board.read(w, Read::Job(seen("x", "new", Some(Status::Running)))));
        assert!(board.apply(Change::Deleted(seen("x", "old", None))).is_empty());
        assert!(board.apply(Change::Upserted(seen("x", "old", Some(Status::Succeeded)))).is_empty());
        assert_eq!(board.apply(Change::Deleted(seen("x", "new", Some(Status::Running)))), vec![w]);
        assert!(matches!(board.take(w), Some(Outcome::Gone { existed: true })));
    }

    #[test]
    fn only_the_waiters_of_the_changed_job_are_woken() {
        let now = Instant::now();
        let mut board = Board::<Jobs>::new();
        let ids: Vec<_> = (0..100).map(|i| board.join(&format!("j{}", i % 10), started(None, now)).0).collect();
        board.list_sent();
        let listed = (0..10).map(|i| seen(&format!("j{i}"), &format!("u{i}"), Some(Status::Running))).collect();
        assert!(board.apply(Change::Listed(listed)).is_empty());
        let woken = board.apply(Change::Upserted(seen("j3", "u3", Some(Status::Succeeded))));
        let expected: Vec<_> = ids.iter().copied().enumerate().filter(|(i, _)| i % 10 == 3).map(|(_, id)| id).collect();
        assert_eq!(woken, expected);
        assert_eq!(board.len(), 100);
        for id in ids {
            board.leave(id);
        }
        assert!(board.is_empty() && board.by_name.is_empty());
    }

    #[test]
    fn deadlines_set_the_horizon_and_expire_their_own_waiters_only() {
        let now = Instant::now();
        let mut board = Board::<Jobs>::new();
        let (short, _) = board.join("a", started(Some(Duration::from_secs(5)), now));
        let (long, _) = board.join("a", started(Some(Duration::from_secs(60)), now));
        let (none, _) = board.join("b", started(None, now));
        assert_eq!(board.horizon(), Some(now + Duration::from_secs(5)));
        assert!(board.expire(now + Duration::from_secs(4)).is_empty());
        assert_eq!(board.expire(now + Duration::from_secs(5)), vec![short]);
        assert!(matches!(board.take(short), Some(Outcome::TimedOut)));
        assert_eq!(board.horizon(), Some(now + Duration::from_secs(60)));
        assert!(!board.decided(long) && !board.decided(none));
    }

    #[test]
    fn an_unsettled_finish_asks_for_a_read_which_decides() {
        let now = Instant::now();
        let mut board = Board::<Jobs>::new();
        let (w, _) = board.join("n", started(None, now));
        board.list_sent();
        let mut stub = seen("n", "", Some(Status::Succeeded));
        stub.settled = false;
        assert_eq!(board.apply(Change::Listed(vec![stub])), vec![w]);
        assert!(matches!(board.take(w), Some(Outcome::Check)));
        assert!(matches!(board.take(w), Some(Outcome::Check)), "kept until the read answers");
        assert!(board.read(w, Read::Job(seen("n", "", Some(Status::Succeeded)))));
        assert!(matches!(board.take(w), Some(Outcome::Finished(_))));
    }

    #[test]
    fn a_failed_feed_fails_every_undecided_waiter_with_a_copy_of_its_error() {
        let now = Instant::now();
        let mut board = Board::<Jobs>::new();
        let (a, _) = board.join("a", started(None, now));
        let (b, _) = board.join("b", started(None, now));
        let err = Error::protocol("no");
        let mut woken = board.fail(&err);
        woken.sort_unstable();
        assert_eq!(woken, vec![a, b]);
        assert!(matches!(board.take(a), Some(Outcome::Failed(Error::Protocol(m))) if m == "no"));
    }

    /// A Nomad list stub of job `name` with `running` executions running (`pending` waiting).
    fn stub(name: &str, pending: u32, running: u32) -> JobSeen {
        let job = Job { name: name.into(), pending, active: running, ..Job::default() };
        JobSeen { name: name.into(), uid: String::new(), terminal: false, settled: false, job }
    }

    /// An execution waiter's look at job `_name`: whether it found an execution.
    fn look(_name: &str, found: bool) -> Read<JobSeen> {
        Read::Executions { uid: String::new(), found: found.then(Execution::default) }
    }

    #[test]
    fn an_execution_waiter_looks_only_when_the_counts_change_to_a_wanted_status() {
        let now = Instant::now();
        let mut board = Board::<Jobs>::new();
        let (w, join) = board.join_wanting("j", started(None, now), Want::Executions(vec![Status::Running]));
        assert_eq!(join, Join::Covered);
        // its first look (it always looks first) finds nothing yet
        assert!(!board.read(w, look("j", false)));
        board.list_sent();
        // pending only: nothing to look at
        assert!(board.apply(Change::Listed(vec![stub("j", 1, 0)])).is_empty());
        assert!(board.apply(Change::Listed(vec![stub("j", 1, 0)])).is_empty());
        // one runs: look
        assert_eq!(board.apply(Change::Listed(vec![stub("j", 0, 1)])), vec![w]);
        assert!(matches!(board.take(w), Some(Outcome::Check)));
        // the look found none of the current run (an older version's allocation): wait on
        assert!(!board.read(w, look("j", false)));
        assert!(!board.decided(w));
        // the same counts again: no second look
        assert!(board.apply(Change::Listed(vec![stub("j", 0, 1)])).is_empty());
        // they change and one still runs: look again, and this time find it
        assert_eq!(board.apply(Change::Listed(vec![stub("j", 0, 2)])), vec![w]);
        assert!(matches!(board.take(w), Some(Outcome::Check)));
        assert!(board.read(w, look("j", true)));
        assert!(matches!(board.take(w), Some(Outcome::Found(_))));
    }

    #[test]
    fn what_the_list_says_while_an_execution_waiters_look_is_out_is_judged_after_it() {
        let now = Instant::now();
        let mut board = Board::<Jobs>::new();
        let (w, _) = board.join_wanting("j", started(None, now), Want::Executions(vec![Status::Running]));
        board.list_sent();
        // its first look is out when the list says one runs, then that one waits again
        assert!(board.apply(Change::Listed(vec![stub("j", 0, 1)])).is_empty());
        assert!(board.apply(Change::Upserted(stub("j", 1, 0))).is_empty());
        assert!(board.read(w, look("j", false)), "the running one seen meanwhile asks for another look");
        assert!(matches!(board.take(w), Some(Outcome::Check)));
        // while that look is out, a second run starts; the look had answered before it
        assert!(board.apply(Change::Listed(vec![stub("j", 0, 2)])).is_empty());
        assert!(board.read(w, look("j", false)), "the newer counts ask for another look at once");
        assert!(matches!(board.take(w), Some(Outcome::Check)));
        // a job missing from a list of jobs that covers the waiter: not found, as for wait_for_job
        let (gone, _) = board.join_wanting("x", started(None, now), Want::Executions(vec![Status::Running]));
        board.list_sent();
        assert!(board.apply(Change::Listed(vec![stub("j", 0, 2)])).contains(&gone));
        assert!(matches!(board.take(gone), Some(Outcome::Gone { existed: false })));
    }

    /// A pod of job `job` (uid `uid`) as the pod feed reports it: one execution in `status`.
    fn pod(job: &str, uid: &str, status: Status) -> ExecutionSeen {
        ExecutionSeen { job: job.into(), job_uid: uid.into(), status, orphaned: false }
    }

    #[test]
    fn on_a_board_of_pods_no_pod_is_not_no_job_and_a_deleted_pod_asks_for_a_look() {
        let now = Instant::now();
        let mut board = Board::<Executions>::new();
        let want = Want::Executions(vec![Status::Running]);
        let (w, _) = board.join_wanting("j", started(None, now), want);
        let own = |found: bool| Read::Executions { uid: "u2".into(), found: found.then(Execution::default) };
        assert!(!board.read(w, own(false)));
        board.list_sent();
        // no pod of j at all: still waiting (the job controller has not made one yet)
        assert!(board.apply(Change::Listed(vec![pod("other", "u9", Status::Running)])).is_empty());
        // an orphan of an earlier job of the same name runs: not this job's
        assert!(board.apply(Change::Upserted(pod("j", "u1", Status::Running))).is_empty());
        // its own pod is deleted before it ran: look again (the job may be gone)
        assert!(board.apply(Change::Upserted(pod("j", "u2", Status::Pending))).is_empty());
        assert_eq!(board.apply(Change::Deleted(pod("j", "u2", Status::Pending))), vec![w]);
        assert!(matches!(board.take(w), Some(Outcome::Check)));
        assert!(board.read(w, Read::Gone), "the look found no job: gone");
        assert!(matches!(board.take(w), Some(Outcome::Gone { existed: true })));
    }

    #[test]
    fn a_relist_that_shows_the_waiters_pod_orphaned_asks_for_a_look() {
        let now = Instant::now();
        let mut board = Board::<Executions>::new();
        let (w, _) = board.join_wanting("j", started(None, now), Want::Executions(vec![Status::Succeeded]));
        assert!(!board.read(w, Read::Executions { uid: "u2".into(), found: None }));
        board.list_sent();
        assert!(board.apply(Change::Listed(vec![pod("j", "u2", Status::Pending)])).is_empty());
        // the watch expired; the relist shows the pod without its controller (its Job deleted
        // with propagationPolicy=Orphan while no event reached us)
        let orphan = ExecutionSeen { orphaned: true, ..pod("j", "u2", Status::Pending) };
        assert_eq!(board.apply(Change::Listed(vec![orphan])), vec![w]);
        assert!(matches!(board.take(w), Some(Outcome::Check)));
    }
}
