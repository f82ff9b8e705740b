//! A wall-clock timer for hyper's header-read timeout and the body-read timeout.
//!
//! Tokio's timer follows a paused test clock, and a paused clock jumps to the next timer whenever the
//! runtime has nothing else to do, for example while a test waits on loopback I/O. A header-read
//! timeout on Tokio time would then cut idle keep-alive connections in the middle of tests that pause
//! time. The timeout guards against real clients (idle or half-sent connections), so it runs on real
//! time: one background thread sleeps until the earliest deadline and wakes the tasks whose deadlines
//! have passed.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Hands out [`WallSleep`]s; every sandbox shares one timer thread.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WallTimer;

impl hyper::rt::Timer for WallTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(sleep(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(WallSleep { deadline, id: None })
    }
}

/// A wall-clock sleep of `duration` (see the module documentation).
pub(crate) fn sleep(duration: Duration) -> WallSleep {
    // A deadline too far to represent never comes.
    let deadline = Instant::now()
        .checked_add(duration)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600));
    WallSleep { deadline, id: None }
}

/// Resolves once the wall clock reaches `deadline`.
#[derive(Debug)]
pub(crate) struct WallSleep {
    deadline: Instant,
    /// Set once the sleep is registered with the timer thread.
    id: Option<u64>,
}

impl Future for WallSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if Instant::now() >= this.deadline {
            if let Some(id) = this.id.take() {
                wheel().cancel(id);
            }
            return Poll::Ready(());
        }
        this.id = Some(wheel().register(this.id, this.deadline, cx.waker()));
        Poll::Pending
    }
}

impl Drop for WallSleep {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            wheel().cancel(id);
        }
    }
}

impl hyper::rt::Sleep for WallSleep {}

/// The deadlines and wakers the timer thread serves.
struct Wheel {
    state: Mutex<WheelState>,
    changed: Condvar,
}

#[derive(Default)]
struct WheelState {
    next_id: u64,
    /// Earliest first. Entries of cancelled sleeps stay until they reach the top or a compaction.
    deadlines: BinaryHeap<Reverse<(Instant, u64)>>,
    /// Live sleeps only.
    wakers: HashMap<u64, Waker>,
    /// What the thread sleeps until (`None`: no deadline, it waits for a registration).
    sleeping_until: Option<Instant>,
}

/// Entries of cancelled sleeps tolerated beyond the live ones before the heap is rebuilt: every
/// request on a keep-alive connection starts and cancels a timeout.
const SLACK: usize = 1024;

fn wheel() -> &'static Wheel {
    static WHEEL: OnceLock<Wheel> = OnceLock::new();
    WHEEL.get_or_init(|| {
        // The thread's first `wheel()` waits for this initialisation to finish.
        std::thread::Builder::new()
            .name("sms-sandbox-timer".to_owned())
            .spawn(|| wheel().run())
            .expect("cannot start the sandbox's timer thread");
        Wheel {
            state: Mutex::new(WheelState::default()),
            changed: Condvar::new(),
        }
    })
}

impl Wheel {
    fn lock(&self) -> MutexGuard<'_, WheelState> {
        // The state stays consistent across a panic (no step leaves it half-done).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a sleep (or refreshes its waker) and returns its id.
    fn register(&self, id: Option<u64>, deadline: Instant, waker: &Waker) -> u64 {
        let mut state = self.lock();
        if let Some(id) = id
            && let Some(known) = state.wakers.get_mut(&id)
        {
            if !known.will_wake(waker) {
                known.clone_from(waker);
            }
            return id;
        }
        let id = state.next_id;
        state.next_id += 1;
        state.deadlines.push(Reverse((deadline, id)));
        state.wakers.insert(id, waker.clone());
        if state.deadlines.len() > 2 * state.wakers.len() + SLACK {
            let live = std::mem::take(&mut state.deadlines);
            state.deadlines = live
                .into_iter()
                .filter(|Reverse((_, id))| state.wakers.contains_key(id))
                .collect();
        }
        // Only an earlier deadline than the thread's wake-up needs the thread.
        if state.sleeping_until.is_none_or(|until| deadline < until) {
            self.changed.notify_one();
        }
        id
    }

    fn cancel(&self, id: u64) {
        self.lock().wakers.remove(&id);
    }

    fn run(&self) {
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            while let Some(&Reverse((deadline, id))) = state.deadlines.peek() {
                let live = state.wakers.contains_key(&id);
                if live && deadline > now {
                    break;
                }
                state.deadlines.pop();
                if let Some(waker) = state.wakers.remove(&id).filter(|_| live) {
                    waker.wake();
                }
            }
            let next = state.deadlines.peek().map(|Reverse((deadline, _))| *deadline);
            state.sleeping_until = next;
            state = match next {
                Some(deadline) => {
                    let wait = deadline.saturating_duration_since(now);
                    self.changed
                        .wait_timeout(state, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.changed.wait(state).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Timer;

    /// The timer follows the wall clock, not a paused Tokio clock: advancing Tokio time by an hour
    /// does not fire a 1 h sleep, and a short sleep fires in real time.
    #[tokio::test(start_paused = true)]
    async fn sleeps_follow_the_wall_clock_not_tokio_time() {
        use futures_util::FutureExt;
        let mut long = WallTimer.sleep(Duration::from_secs(3600));
        tokio::time::advance(Duration::from_secs(7200)).await;
        assert!(long.as_mut().now_or_never().is_none());
        let start = Instant::now();
        WallTimer.sleep(Duration::from_millis(30)).await;
        assert!(start.elapsed() >= Duration::from_millis(30));
        // Deadlines fire in order whatever the registration order.
        let late = WallTimer.sleep(Duration::from_millis(60));
        let early = WallTimer.sleep(Duration::from_millis(20));
        let first = tokio::select! {
            biased;
            () = late => "late",
            () = early => "early",
        };
        assert_eq!(first, "early");
        drop(long);
    }
}
