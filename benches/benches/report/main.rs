//! One run, one report (markdown, on stdout): for every body of
//! [`clustermanager_benches::suites`], the decoding time of each case as a ratio to the floor
//! measured in the same run (median of interleaved rounds), then the peak heap and the
//! allocations of one call (a counting global allocator), then concurrent `wait_for_job` on the
//! fake cluster, then `get_job` round trips over loopback HTTP through both transports against
//! raw hyper (and kube-rs with `--features kube`), then the latency of `wait_for_job` from the
//! server writing the completion. See BENCHMARKS.md.
//!
//! `cargo bench -p clustermanager-benches --bench report [-- decode|memory|waits|transport|latency ...]`;
//! the environment variables `ROUNDS` (timing rounds, default 11), `WAITS` (the largest number of
//! concurrent waits, default 10000), `TRANSPORT_SECS` / `TRANSPORT_ROUNDS` (default 1 s × 3) and
//! `LATENCY_WAITS` (default 50) tune it.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use clustermanager_benches::suites::{suites, Role, Sizes, Suite};

mod fixtures;
mod latency;
mod loopback;
mod transport;
mod waits;

/// Forwards to `System`, counting the bytes in use, their peak and the allocations.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = CURRENT.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(now, Relaxed);
    ALLOCATIONS.fetch_add(1, Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the counters
// are only read by this program, never used to decide an allocation.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through this allocator) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and `new_size` is the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size(), Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// What one call of `f` took from the heap: the peak above what was in use before, and the
/// allocations (reallocations included).
#[derive(Debug, Clone, Copy)]
pub struct Heap {
    pub peak: usize,
    pub allocations: usize,
}

pub fn measure_heap<T>(f: impl FnOnce() -> T) -> (T, Heap) {
    let base = CURRENT.load(Relaxed);
    PEAK.store(base, Relaxed);
    let count = ALLOCATIONS.load(Relaxed);
    let out = f();
    let heap = Heap { peak: PEAK.load(Relaxed) - base, allocations: ALLOCATIONS.load(Relaxed) - count };
    (out, heap)
}

pub fn bytes(n: usize) -> String {
    match n {
        n if n >= 10 << 20 => format!("{:.0} MiB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1 << 20)),
        n if n >= 10 << 10 => format!("{:.0} KiB", n as f64 / 1024.0),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort_unstable();
    xs[xs.len() / 2]
}

fn ratio(x: f64, floor: f64) -> String {
    if floor == 0.0 {
        return "—".into();
    }
    format!("{:.2}×", x / floor)
}

fn decode_times(suites: &[Suite], rounds: usize) {
    println!("## Decoding time (median of {rounds} interleaved rounds; ratio to the floor of the same run)\n");
    println!("| body | decoder | median | throughput | × floor |");
    println!("|---|---|---:|---:|---:|");
    for suite in suites {
        for case in &suite.cases {
            (case.run)(&suite.body); // warm up
        }
        let mut times = vec![Vec::with_capacity(rounds); suite.cases.len()];
        for _ in 0..rounds {
            for (case, times) in suite.cases.iter().zip(&mut times) {
                let t = Instant::now();
                let n = (case.run)(&suite.body);
                times.push(t.elapsed());
                assert_eq!(n, suite.items, "{}: {}", suite.name, case.name);
            }
        }
        let medians: Vec<Duration> = times.into_iter().map(median).collect();
        let floor = medians[0].as_secs_f64();
        for (case, m) in suite.cases.iter().zip(&medians) {
            let mbps = suite.body.len() as f64 / m.as_secs_f64() / 1e6;
            let name = if case.role == Role::Floor { format!("**{}**", case.name) } else { case.name.clone() };
            println!(
                "| {} | {name} | {:.2} ms | {mbps:.0} MB/s | {} |",
                suite.name,
                m.as_secs_f64() * 1e3,
                ratio(m.as_secs_f64(), floor)
            );
        }
    }
    println!();
}

fn memory(suites: &[Suite]) {
    println!("## Memory of one call (peak heap above the body, allocations; ratio to the floor)\n");
    println!("| body | decoder | peak heap | × floor | per item | allocations | per item | peak ÷ longest frame |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for suite in suites {
        let mut floor = None;
        for case in &suite.cases {
            (case.run)(&suite.body); // warm up (lazy statics, thread-locals)
            let (n, heap) = measure_heap(|| (case.run)(&suite.body));
            assert_eq!(n, suite.items, "{}: {}", suite.name, case.name);
            let floor = *floor.get_or_insert(heap);
            let items = suite.items as f64;
            let name = if case.role == Role::Floor { format!("**{}**", case.name) } else { case.name.clone() };
            let bounded = if suite.longest > 0 {
                format!("{:.1}", heap.peak as f64 / suite.longest as f64)
            } else {
                "—".into()
            };
            println!(
                "| {} | {name} | {} | {} | {} | {} | {} | {bounded} |",
                suite.name,
                bytes(heap.peak),
                ratio(heap.peak as f64, floor.peak as f64),
                if suite.unit == "data byte" {
                    format!("{:.2} B", heap.peak as f64 / items)
                } else {
                    bytes(heap.peak / suite.items)
                },
                heap.allocations,
                if suite.unit == "data byte" {
                    format!("{:.1} / MiB", heap.allocations as f64 / items * f64::from(1 << 20))
                } else {
                    format!("{:.1}", heap.allocations as f64 / items)
                },
            );
        }
    }
    println!();
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wants = |part: &str| args.is_empty() || args.iter().any(|a| a == part);
    let rounds = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(11);
    println!("# clustermanager benchmark report\n");
    println!(
        "{} CPUs; every ratio is to a baseline measured in this run.\n",
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    if wants("decode") || wants("memory") {
        let suites = suites(Sizes::FULL);
        println!("## Bodies\n");
        println!("| body | what | bytes | items | longest frame |");
        println!("|---|---|---:|---:|---:|");
        for s in &suites {
            let longest = if s.longest > 0 { bytes(s.longest) } else { "—".into() };
            println!("| {} | {} | {} | {} {}s | {longest} |", s.name, s.description, s.body.len(), s.items, s.unit);
        }
        println!();
        if wants("decode") {
            decode_times(&suites, rounds);
        }
        if wants("memory") {
            memory(&suites);
        }
    }
    if wants("waits") {
        let max = std::env::var("WAITS").ok().and_then(|r| r.parse().ok()).unwrap_or(10_000);
        waits::report(max);
    }
    if wants("transport") {
        transport::report();
    }
    if wants("latency") {
        latency::report();
    }
}
