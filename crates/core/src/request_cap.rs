//! A global cap on token requests toward the identity platform: at most `per_second` requests
//! in any window of a second, first come first served. The token service gives one to every
//! Account it runs, so its scheduler's refreshes and on-demand refreshes share it.
//!
//! The window is counted where the request is sent, a little longer than a second
//! ([`CAP_WINDOW`]): requests do not all take the same time to reach Microsoft, and a later one
//! that travels faster than an earlier one must still not make `per_second + 1` arrive there
//! within one second. Spacing the requests' starts alone (as the scheduler also does) let 13 of
//! them arrive in one second under a cap of 10 (BENCHMARKS.md, "Scheduler at scale").

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::{Instant, sleep_until};

/// How long a request counts against the cap: a second, plus slack for requests that reach
/// Microsoft faster than the one before them.
pub const CAP_WINDOW: Duration = Duration::from_millis(1050);

/// See the module documentation.
#[derive(Debug)]
pub struct RequestCap {
    per_second: usize,
    /// When each of the last `per_second` requests was let through, oldest first. The async
    /// lock keeps waiters in arrival order while the first of them sleeps.
    sent: Mutex<VecDeque<Instant>>,
}

impl RequestCap {
    pub fn new(per_second: u32) -> Self {
        let per_second = usize::try_from(per_second.max(1)).unwrap_or(usize::MAX);
        RequestCap {
            per_second,
            sent: Mutex::new(VecDeque::with_capacity(per_second.min(1024))),
        }
    }

    /// Waits until one more request keeps the cap, and counts it as sent now.
    pub async fn admit(&self) {
        let mut sent = self.sent.lock().await;
        loop {
            let now = Instant::now();
            while sent
                .front()
                .is_some_and(|at| now.duration_since(*at) >= CAP_WINDOW)
            {
                sent.pop_front();
            }
            if sent.len() < self.per_second {
                sent.push_back(now);
                return;
            }
            if let Some(oldest) = sent.front().copied() {
                sleep_until(oldest + CAP_WINDOW).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn no_window_holds_more_than_the_cap_and_waiters_keep_their_order() {
        let cap = Arc::new(RequestCap::new(10));
        let started = Instant::now();
        let admitted = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..35)
            .map(|index| {
                let cap = cap.clone();
                let admitted = admitted.clone();
                tokio::spawn(async move {
                    // Each arrives a millisecond after the one before.
                    tokio::time::sleep(Duration::from_millis(index)).await;
                    cap.admit().await;
                    admitted.lock().unwrap().push((index, started.elapsed()));
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let admitted = admitted.lock().unwrap().clone();
        let order: Vec<u64> = admitted.iter().map(|(index, _)| *index).collect();
        assert_eq!(
            order,
            (0..35).collect::<Vec<_>>(),
            "first come first served"
        );
        let times: Vec<Duration> = admitted.iter().map(|(_, at)| *at).collect();
        for (position, at) in times.iter().enumerate() {
            let within = times[position..]
                .iter()
                .filter(|later| **later - *at < CAP_WINDOW)
                .count();
            assert!(within <= 10, "{within} within a window from {at:?}");
        }
        assert!(
            times[9] < Duration::from_millis(20),
            "the first ten go at once"
        );
        assert!(
            times[10] >= times[0] + CAP_WINDOW,
            "the eleventh waits for the first's window to end"
        );
        assert!(
            times[34] < CAP_WINDOW * 4,
            "and nothing waits longer than it must"
        );
    }
}
