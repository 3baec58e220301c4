//! Work spread over the machine's cores, results in order.
//!
//! `braid new` is a few thousand small, independent jobs (a component
//! manifest to parse, a template to render, a file to write); on two cores
//! they take half the time in two threads. Threads for the call, no pool: a
//! thread costs tens of microseconds, each call spreads milliseconds.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The threads to use for `jobs` jobs: one per core (at most 8), never more
/// threads than jobs. `BRAID_THREADS` overrides the core count (1: no thread).
fn threads(jobs: usize) -> usize {
    // Read once per process: `available_parallelism` reads the cgroup's CPU
    // quota from /proc and /sys (five files) on every call, which cost more
    // than some of the `par` calls it sized.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| {
        std::env::var("BRAID_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n >= 1)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(8)))
    });
    cores.min(jobs).max(1)
}

/// `f` applied to every item, in parallel, the results in the items' order.
/// Items are handed out one at a time, so a slow one (a large template)
/// does not hold back a whole share. A panic in `f` is a panic here.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let n = threads(items.len());
    if n <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break done };
            done.push((i, f(item)));
        }
    };
    let mut helpers = Helpers(Vec::new());
    for _ in 1..n {
        // SAFETY: the helper gets a copy of `work`, which borrows `next`, `items`
        // and `f`, all of which outlive it: every helper is joined below,
        // or by `Helpers::drop` if this thread unwinds first.
        match unsafe { std::thread::Builder::new().spawn_unchecked(work) } {
            Ok(h) => helpers.0.push(h),
            Err(_) => break, // no thread to be had: fewer helpers, same result
        }
    }
    spread(&helpers.0);
    let mut all = work();
    let mut panic = None;
    while let Some(h) = helpers.0.pop() {
        match h.join() {
            Ok(done) => all.extend(done),
            Err(p) => panic = Some(p),
        }
    }
    if let Some(p) = panic {
        std::panic::resume_unwind(p);
    }
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    for (i, r) in all {
        slots[i] = Some(r);
    }
    slots
        .into_iter()
        .map(|r| r.expect("every item was taken by a thread"))
        .collect()
}

/// Helper threads, joined when dropped: none outlives what it borrows.
struct Helpers<R>(Vec<std::thread::JoinHandle<R>>);

impl<R> Drop for Helpers<R> {
    fn drop(&mut self) {
        while let Some(h) = self.0.pop() {
            let _ = h.join();
        }
    }
}

/// Moves new helper threads off the CPU this thread runs on. Linux queues a
/// new thread on its parent's CPU; on a VM it often waits there for
/// milliseconds (until the parent is preempted) while the other CPUs idle,
/// which is the whole of a `par` call. Measured on a 2-vCPU VM: a helper
/// started 0.2-3.4 ms after spawn, 0.15-0.6 ms once moved.
#[cfg(target_os = "linux")]
fn spread<R>(helpers: &[std::thread::JoinHandle<R>]) {
    use std::os::unix::thread::JoinHandleExt as _;
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: libc calls on a zeroed cpu_set_t of the size given, and on
    // threads that are alive (not joined yet).
    unsafe {
        let Ok(cpu) = usize::try_from(libc::sched_getcpu()) else {
            return;
        };
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu >= 8 * size || libc::sched_getaffinity(0, size, &raw mut set) != 0 {
            return;
        }
        libc::CPU_CLR(cpu, &mut set);
        if libc::CPU_COUNT(&set) == 0 {
            return;
        }
        for h in helpers {
            libc::pthread_setaffinity_np(h.as_pthread_t(), size, &raw const set);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn spread<R>(_helpers: &[std::thread::JoinHandle<R>]) {}

/// `f` on every item in parallel; the first error in the items' order, if any
/// (all items are tried: the work is not cut short).
pub fn try_map<T: Sync, R: Send, E: Send>(items: &[T], f: impl Fn(&T) -> Result<R, E> + Sync) -> Result<Vec<R>, E> {
    map(items, f).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order_whatever_thread_ran_them() {
        let items: Vec<u64> = (0..1000).collect();
        // uneven work, so threads finish items out of order
        let out = map(&items, |&i| {
            if i % 7 == 0 {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
            i * 2
        });
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn the_first_error_in_order_is_the_one_returned() {
        let items: Vec<u32> = (0..200).collect();
        let err = try_map(&items, |&i| if i == 150 || i == 40 { Err(i) } else { Ok(i) }).unwrap_err();
        assert_eq!(err, 40);
    }

    #[test]
    fn no_items_no_threads() {
        let out: Vec<u8> = map(&[] as &[u8], |_| unreachable!());
        assert!(out.is_empty());
    }
}
