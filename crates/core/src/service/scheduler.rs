//! The refresh scheduler: a due-time queue (no polling) that refreshes each tracked account
//! shortly before its token expires, with jitter, a global cap on token requests per second,
//! per-class error handling, and detection of wall-clock jumps (suspend and resume).
//!
//! The scheduler knows accounts by name only; [`RefreshJob`] does the refresh (the token
//! service passes one backed by [`crate::account::Account`] and the store), so the policy here
//! is tested on its own with tokio's paused clock.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use rand::Rng;
use serde::Serialize;
use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio::time::{Instant, sleep_until};

use crate::error::{Error, ErrorClass, Result};
use crate::request_cap::CAP_WINDOW;
/// Wall-clock time in milliseconds since the Unix epoch; replaceable so tests can jump it.
/// Expiries are whole seconds, but whether a token can still be saved is a matter of the
/// fraction of a second that is left.
pub type WallClock = Arc<dyn Fn() -> i64 + Send + Sync>;

fn unix_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Refreshes one account and returns its new access-token expiry (Unix seconds).
pub trait RefreshJob: Send + Sync + 'static {
    fn refresh<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<i64>>;
}

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Refresh this long before expiry.
    pub margin: Duration,
    /// Each due time moves earlier by a random amount up to this, so accounts signed in
    /// together do not refresh together.
    pub jitter: Duration,
    /// An account that is not kept fresh is still refreshed after this long, so the refresh
    /// token's 90-day inactivity limit never bites.
    pub keep_alive: Duration,
    /// At most this many token requests per second toward the identity platform: refreshes
    /// start this far apart, and the token service holds every request to it in any second
    /// ([`crate::request_cap::RequestCap`]).
    pub max_requests_per_second: u32,
    /// Refreshes in flight at once.
    pub max_concurrent: usize,
    /// First retry delay after a transient failure; doubles each time up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// How often wall-clock time is compared with monotonic time.
    pub clock_check: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            margin: Duration::from_secs(5 * 60),
            jitter: Duration::from_secs(60),
            keep_alive: Duration::from_secs(14 * 24 * 3600),
            max_requests_per_second: 10,
            max_concurrent: 32,
            backoff_base: Duration::from_secs(5),
            backoff_cap: Duration::from_secs(15 * 60),
            clock_check: Duration::from_secs(60),
        }
    }
}

/// What the scheduler tells the UI, the tray and notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SchedulerEvent {
    Refreshed {
        account: String,
        expires_at: i64,
    },
    /// A failure the scheduler will retry by itself.
    RetryScheduled {
        account: String,
        code: String,
        retry_in_s: u64,
    },
    /// A failure only the person can fix (sign in again, MFA, consent, app settings): the
    /// account is no longer refreshed until it is tracked again.
    NeedsAttention {
        account: String,
        code: String,
    },
    /// Wall-clock time moved against monotonic time (suspend/resume, clock change).
    ClockJumped {
        by_s: i64,
    },
}

/// How to keep one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub account: String,
    pub expires_at: i64,
    pub last_refreshed_at: i64,
    /// Refresh before every expiry (tokens always ready) or only for keep-alive.
    pub keep_fresh: bool,
}

enum Command {
    Track(Tracked),
    Untrack(String),
    Retime {
        margin: Duration,
        keep_alive: Duration,
    },
}

/// A handle on the running scheduler; dropping every handle stops it.
#[derive(Clone)]
pub struct Scheduler {
    commands: mpsc::UnboundedSender<Command>,
    events: broadcast::Sender<SchedulerEvent>,
}

impl Scheduler {
    pub fn start(config: SchedulerConfig, job: Arc<dyn RefreshJob>) -> Self {
        Self::start_with_clock(config, job, Arc::new(unix_millis))
    }

    pub fn start_with_clock(
        config: SchedulerConfig,
        job: Arc<dyn RefreshJob>,
        wall: WallClock,
    ) -> Self {
        let (commands, receiver) = mpsc::unbounded_channel();
        let (events, _) = broadcast::channel(1024);
        let run = Run::new(config, job, events.clone(), wall);
        tokio::spawn(run.serve(receiver));
        Scheduler { commands, events }
    }

    /// Starts (or updates) keeping an account; also after the person fixed a failure.
    pub fn track(&self, tracked: Tracked) {
        let _ = self.commands.send(Command::Track(tracked));
    }

    pub fn untrack(&self, account: &str) {
        let _ = self.commands.send(Command::Untrack(account.to_owned()));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<SchedulerEvent> {
        self.events.subscribe()
    }

    /// Changes the refresh margin and the keep-alive period; every due time is recomputed.
    pub fn retime(&self, margin: Duration, keep_alive: Duration) {
        let _ = self.commands.send(Command::Retime { margin, keep_alive });
    }
}

/// A tracked account not due yet: when it falls due, then the entry.
type WaitingKey = (Instant, u64, String);

/// A due account waiting for its turn at the request cap: earliest deadline first (the
/// token's expiry; see [`Run::deadline`]), then the entry. Ordering the due by deadline, not
/// by when each fell due, is what keeps a backlog from making later tokens late too.
type ReadyKey = (i64, u64, String);

/// Added to a deadline, sorts after every real one: due accounts whose token will be dead
/// before their request could go wait behind those that can still be saved.
const HOPELESS: i64 = i64::MAX / 2;

/// How much later than the scheduler's estimate a refresh may finish and still count as in
/// time when it judges whether a token can be saved. A refresh is one request plus a store
/// write, and on a loaded machine either can stall; a token judged savable that then dies
/// anyway costs a turn of the cap that another token needed. But every token closer to death
/// than this is given up at once: at 10,000 accounts and 20 requests a second, 10 s of slack
/// gave up the 198 tokens expiring in the first 12 s, 2 s the 34 of the first 2 s
/// (BENCHMARKS.md, "Scheduler at scale"). Half a second covers a token endpoint's usual
/// answer; one that takes longer costs that token, refreshed late, not the others.
const SAVABLE_SLACK: Duration = Duration::from_millis(500);

enum Place {
    Waiting(WaitingKey),
    Ready(ReadyKey),
    /// Its refresh is in flight; `finish` decides what comes next.
    Running,
}

struct Entry {
    tracked: Tracked,
    place: Place,
    failures: u32,
    /// Bumped whenever the entry changes, so a finished refresh for an outdated entry is
    /// recognised and ignored.
    generation: u64,
}

struct Run {
    config: SchedulerConfig,
    wall: WallClock,
    job: Arc<dyn RefreshJob>,
    events: broadcast::Sender<SchedulerEvent>,
    entries: HashMap<String, Entry>,
    waiting: BTreeSet<WaitingKey>,
    ready: BTreeSet<ReadyKey>,
    next_generation: u64,
    next_request_slot: Instant,
    in_flight: Arc<Semaphore>,
}

type Finished = (String, u64, Result<i64>);

impl Run {
    fn new(
        config: SchedulerConfig,
        job: Arc<dyn RefreshJob>,
        events: broadcast::Sender<SchedulerEvent>,
        wall: WallClock,
    ) -> Self {
        let in_flight = Arc::new(Semaphore::new(config.max_concurrent.max(1)));
        Run {
            config,
            wall,
            job,
            events,
            entries: HashMap::new(),
            waiting: BTreeSet::new(),
            ready: BTreeSet::new(),
            next_generation: 0,
            next_request_slot: Instant::now(),
            in_flight,
        }
    }

    async fn serve(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let (finished_tx, mut finished) = mpsc::unbounded_channel::<Finished>();
        let mut clock_check = tokio::time::interval(self.config.clock_check);
        clock_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut wall_at_check = self.wall_seconds();
        let mut mono_at_check = Instant::now();
        loop {
            let next_start = self.next_start();
            tokio::select! {
                // Commands first: accounts tracked together (at start, after a resume) are all
                // queued before any starts, so they go in deadline order.
                biased;
                command = commands.recv() => match command {
                    Some(Command::Track(tracked)) => self.track(tracked),
                    Some(Command::Untrack(account)) => self.remove(&account),
                    Some(Command::Retime { margin, keep_alive }) => {
                        self.config.margin = margin;
                        self.config.keep_alive = keep_alive;
                        self.reschedule_all();
                    }
                    None => return,
                },
                Some((account, generation, outcome)) = finished.recv() => {
                    self.finish(&account, generation, outcome);
                }
                _ = sleep_until(next_start.unwrap_or_else(far_future)), if next_start.is_some() => {
                    self.start_due(&finished_tx);
                }
                _ = clock_check.tick() => {
                    let wall = self.wall_seconds();
                    let monotonic = i64::try_from(mono_at_check.elapsed().as_secs()).unwrap_or(i64::MAX);
                    let drift = (wall - wall_at_check) - monotonic;
                    if drift.abs() > 5 {
                        let _ = self.events.send(SchedulerEvent::ClockJumped { by_s: drift });
                        self.reschedule_all();
                    }
                    wall_at_check = wall;
                    mono_at_check = Instant::now();
                }
            }
        }
    }

    /// When `start_due` has work: now if a due account waits and a refresh may start (else a
    /// finishing refresh wakes the loop), otherwise when the next account falls due.
    fn next_start(&self) -> Option<Instant> {
        if !self.ready.is_empty() && self.in_flight.available_permits() > 0 {
            return Some(Instant::now());
        }
        self.waiting.first().map(|(due, ..)| *due)
    }

    fn track(&mut self, tracked: Tracked) {
        self.remove(&tracked.account);
        let due = self.due_for(&tracked);
        self.insert(tracked, due, 0);
    }

    fn insert(&mut self, tracked: Tracked, due: Instant, failures: u32) {
        self.next_generation += 1;
        let generation = self.next_generation;
        let account = tracked.account.clone();
        let place = if due <= Instant::now() {
            let key = (self.deadline(&tracked), generation, account.clone());
            self.ready.insert(key.clone());
            Place::Ready(key)
        } else {
            let key = (due, generation, account.clone());
            self.waiting.insert(key.clone());
            Place::Waiting(key)
        };
        let entry = Entry {
            tracked,
            place,
            failures,
            generation,
        };
        self.entries.insert(account, entry);
    }

    fn remove(&mut self, account: &str) {
        if let Some(entry) = self.entries.remove(account) {
            match entry.place {
                Place::Waiting(key) => {
                    self.waiting.remove(&key);
                }
                Place::Ready(key) => {
                    self.ready.remove(&key);
                }
                Place::Running => {}
            }
        }
    }

    fn wall_seconds(&self) -> i64 {
        (self.wall)().div_euclid(1000)
    }

    /// The wall-clock time by which the account's refresh must have happened: its token's
    /// expiry, or for an account only kept alive, a keep-alive period after it fell due (the
    /// refresh token's 90-day limit is far; such refreshes give way to tokens about to die).
    fn deadline(&self, tracked: &Tracked) -> i64 {
        if tracked.keep_fresh {
            tracked.expires_at
        } else {
            let keep_alive = seconds(self.config.keep_alive);
            tracked
                .last_refreshed_at
                .saturating_add(keep_alive.saturating_mul(2))
        }
    }

    /// Moves every account whose due time has come among the ready ones.
    fn promote_due(&mut self, now: Instant) {
        while let Some(key) = self.waiting.first() {
            if key.0 > now {
                break;
            }
            let Some((_, generation, account)) = self.waiting.pop_first() else {
                break;
            };
            let Some(deadline) = self
                .entries
                .get(&account)
                .map(|entry| self.deadline(&entry.tracked))
            else {
                continue;
            };
            let key = (deadline, generation, account.clone());
            self.ready.insert(key.clone());
            if let Some(entry) = self.entries.get_mut(&account) {
                entry.place = Place::Ready(key);
            }
        }
    }

    /// The ready account to refresh next. One whose token will have expired before its
    /// request could go (the cap is behind) moves behind every account that can still be
    /// saved, once: under overload, refreshing the hopeless first would make every later one
    /// late too. Its request goes after the slot it would get and after every refresh already
    /// in flight (they hold the request cap's turns before it).
    fn next_ready(&mut self, slot: Instant, now: Instant) -> Option<ReadyKey> {
        loop {
            let key = self.ready.pop_first()?;
            let (deadline, generation, account) = &key;
            let Some(entry) = self.entries.get(account) else {
                continue;
            };
            if *deadline >= HOPELESS || !entry.tracked.keep_fresh || self.ready.is_empty() {
                return Some(key);
            }
            let in_flight = self.config.max_concurrent.max(1) - self.in_flight.available_permits();
            let behind = self
                .request_spacing()
                .saturating_mul(u32::try_from(in_flight).unwrap_or(u32::MAX));
            let wait = slot.saturating_duration_since(now).max(behind) + SAVABLE_SLACK;
            let dies_at = entry.tracked.expires_at.saturating_mul(1000);
            if dies_at > (self.wall)().saturating_add(millis(wait)) {
                return Some(key);
            }
            let hopeless = (
                HOPELESS.saturating_add(entry.tracked.expires_at),
                *generation,
                account.clone(),
            );
            self.ready.insert(hopeless.clone());
            if let Some(entry) = self.entries.get_mut(account) {
                entry.place = Place::Ready(hopeless);
            }
        }
    }

    /// When the account should next be refreshed, from wall-clock facts.
    fn due_for(&self, tracked: &Tracked) -> Instant {
        let now = self.wall_seconds();
        let target = if tracked.keep_fresh {
            let margin = seconds(self.config.margin);
            let jitter = seconds(self.config.jitter);
            let jitter = if jitter > 0 {
                rand::thread_rng().gen_range(0..=jitter)
            } else {
                0
            };
            // A token living less than twice that (a tenant's short token lifetime policy)
            // would be due the moment it arrived and refreshed in a loop: refresh it halfway
            // through its life instead.
            let lifetime = tracked.expires_at - tracked.last_refreshed_at;
            let early = if lifetime > 0 {
                (margin + jitter).min(lifetime / 2)
            } else {
                margin + jitter
            };
            tracked.expires_at - early
        } else {
            tracked.last_refreshed_at + seconds(self.config.keep_alive)
        };
        let wait = u64::try_from(target - now).unwrap_or(0);
        Instant::now() + Duration::from_secs(wait)
    }

    /// After a clock jump every due time is recomputed from the wall-clock expiries.
    fn reschedule_all(&mut self) {
        let queued: Vec<(Tracked, u32)> = self
            .entries
            .values()
            .filter(|entry| !matches!(entry.place, Place::Running))
            .map(|entry| (entry.tracked.clone(), entry.failures))
            .collect();
        for (tracked, failures) in queued {
            self.remove(&tracked.account);
            let due = self.due_for(&tracked);
            self.insert(tracked, due, failures);
        }
    }

    /// Starts due refreshes, each in its own task, paced by the request cap, while refreshes
    /// may start; it never waits, so commands and finished refreshes are handled meanwhile.
    fn start_due(&mut self, finished: &mpsc::UnboundedSender<Finished>) {
        loop {
            let now = Instant::now();
            self.promote_due(now);
            if self.ready.is_empty() || self.in_flight.available_permits() == 0 {
                return;
            }
            let slot = self.next_request_slot.max(now);
            let Some(key) = self.next_ready(slot, now) else {
                return;
            };
            // Only this loop takes permits, and one was free.
            let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
                self.ready.insert(key);
                return;
            };
            let (_, generation, account) = key;
            if let Some(entry) = self.entries.get_mut(&account) {
                entry.place = Place::Running;
            }
            self.next_request_slot = slot + self.request_spacing();
            let job = self.job.clone();
            let finished = finished.clone();
            tokio::spawn(async move {
                sleep_until(slot).await;
                let outcome = job.refresh(&account).await;
                drop(permit);
                let _ = finished.send((account, generation, outcome));
            });
        }
    }

    /// The request cap's window over its count, so that the starts keep pace with what
    /// the cap lets through and no backlog builds up inside it.
    fn request_spacing(&self) -> Duration {
        CAP_WINDOW / self.config.max_requests_per_second.max(1)
    }

    fn finish(&mut self, account: &str, generation: u64, outcome: Result<i64>) {
        let Some(entry) = self.entries.get(account) else {
            return;
        };
        if entry.generation != generation {
            // Re-tracked meanwhile (the token service re-tracks after every refresh, this one
            // included): the newer entry decides the schedule, but a refresh that happened is
            // still told. Dropping it lost most `refreshed` events at 10,000 accounts.
            if let Ok(expires_at) = outcome {
                let _ = self.events.send(SchedulerEvent::Refreshed {
                    account: account.to_owned(),
                    expires_at,
                });
            }
            return;
        }
        let mut tracked = entry.tracked.clone();
        let failures = entry.failures;
        self.entries.remove(account);
        match outcome {
            Ok(expires_at) => {
                tracked.expires_at = expires_at;
                tracked.last_refreshed_at = self.wall_seconds();
                let _ = self.events.send(SchedulerEvent::Refreshed {
                    account: account.to_owned(),
                    expires_at,
                });
                let due = self.due_for(&tracked);
                self.insert(tracked, due, 0);
            }
            Err(error) => match self.retry_delay(&error, failures) {
                Some(delay) => {
                    let _ = self.events.send(SchedulerEvent::RetryScheduled {
                        account: account.to_owned(),
                        code: error.code().to_owned(),
                        retry_in_s: delay.as_secs(),
                    });
                    self.insert(tracked, Instant::now() + delay, failures + 1);
                }
                None => {
                    let _ = self.events.send(SchedulerEvent::NeedsAttention {
                        account: account.to_owned(),
                        code: error.code().to_owned(),
                    });
                }
            },
        }
    }

    /// Throttled: what Microsoft asked (else the backoff). Transient: exponential backoff with
    /// a cap. Anything a person must fix: no retry.
    fn retry_delay(&self, error: &Error, failures: u32) -> Option<Duration> {
        let backoff = self
            .config
            .backoff_base
            .saturating_mul(2u32.saturating_pow(failures.min(20)))
            .min(self.config.backoff_cap);
        match error.class() {
            Some(ErrorClass::Throttled) => Some(
                error
                    .retry_after()
                    .unwrap_or(backoff)
                    .max(Duration::from_secs(1)),
            ),
            Some(ErrorClass::Transient) => {
                Some(error.retry_after().unwrap_or(backoff).max(backoff))
            }
            _ => None,
        }
    }
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 3600)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicI64, Ordering};

    use futures_util::FutureExt;

    use super::*;
    use crate::error::{MicrosoftErrorResponse, classify};

    /// A wall clock that follows tokio's (paused) clock, plus jumps the test makes.
    struct TestClock {
        start_wall: i64,
        start: Instant,
        jumped: AtomicI64,
    }

    impl TestClock {
        fn new() -> Arc<Self> {
            Arc::new(TestClock {
                start_wall: 1_800_000_000,
                start: Instant::now(),
                jumped: AtomicI64::new(0),
            })
        }
        fn now(&self) -> i64 {
            self.start_wall
                + self.start.elapsed().as_secs() as i64
                + self.jumped.load(Ordering::SeqCst)
        }
        fn wall(self: &Arc<Self>) -> WallClock {
            let clock = self.clone();
            Arc::new(move || {
                (clock.start_wall + clock.jumped.load(Ordering::SeqCst)) * 1000
                    + clock.start.elapsed().as_millis() as i64
            })
        }
    }

    type Script = Box<dyn Fn(&str, u32) -> Result<i64> + Send + Sync>;

    /// Records each refresh (account, seconds since start) and answers from a script.
    struct Recorder {
        clock: Arc<TestClock>,
        calls: Mutex<Vec<(String, u64)>>,
        script: Script,
    }

    impl RefreshJob for Recorder {
        fn refresh<'a>(&'a self, account: &'a str) -> BoxFuture<'a, Result<i64>> {
            async move {
                let attempt = {
                    let mut calls = self.calls.lock().unwrap();
                    calls.push((account.to_owned(), self.clock.start.elapsed().as_secs()));
                    calls.iter().filter(|(name, _)| name == account).count() as u32
                };
                if account.starts_with("slow") {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                (self.script)(account, attempt)
            }
            .boxed()
        }
    }

    fn config() -> SchedulerConfig {
        SchedulerConfig {
            jitter: Duration::ZERO,
            ..SchedulerConfig::default()
        }
    }

    fn start(
        config: SchedulerConfig,
        script: Script,
    ) -> (Scheduler, Arc<Recorder>, Arc<TestClock>) {
        start_on(TestClock::new(), config, script)
    }

    fn start_on(
        clock: Arc<TestClock>,
        config: SchedulerConfig,
        script: Script,
    ) -> (Scheduler, Arc<Recorder>, Arc<TestClock>) {
        let recorder = Arc::new(Recorder {
            clock: clock.clone(),
            calls: Mutex::new(Vec::new()),
            script,
        });
        let scheduler = Scheduler::start_with_clock(config, recorder.clone(), clock.wall());
        (scheduler, recorder, clock)
    }

    /// As `start`, every refresh giving a token that lives `lifetime_s` from the test's now.
    fn start_renewing(
        config: SchedulerConfig,
        lifetime_s: i64,
    ) -> (Scheduler, Arc<Recorder>, Arc<TestClock>) {
        let clock = TestClock::new();
        let script_clock = clock.clone();
        start_on(
            clock,
            config,
            Box::new(move |_, _| Ok(script_clock.now() + lifetime_s)),
        )
    }

    fn tracked(account: &str, expires_in: i64, clock: &TestClock) -> Tracked {
        Tracked {
            account: account.into(),
            expires_at: clock.now() + expires_in,
            last_refreshed_at: clock.now(),
            keep_fresh: true,
        }
    }

    fn failure(error: &str, status: u16, retry_after: Option<u64>) -> Error {
        classify(
            MicrosoftErrorResponse {
                error: error.into(),
                ..Default::default()
            },
            Some(status),
            retry_after.map(Duration::from_secs),
        )
    }

    /// Every refresh's account, in the order they started.
    fn refreshed_in_order(recorder: &Recorder) -> Vec<String> {
        recorder
            .calls
            .lock()
            .unwrap()
            .iter()
            .map(|(account, _)| account.clone())
            .collect()
    }

    fn calls(recorder: &Recorder, account: &str) -> Vec<u64> {
        recorder
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, _)| name == account)
            .map(|(_, at)| *at)
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_margin_moves_the_due_times_of_accounts_already_tracked() {
        let (scheduler, recorder, clock) = start(config(), Box::new(|_, _| Ok(1_800_100_000)));
        scheduler.track(tracked("alice", 3600, &clock));
        tokio::time::sleep(Duration::from_secs(10)).await;
        scheduler.retime(Duration::from_secs(1800), Duration::from_secs(14 * 86400));
        tokio::time::sleep(Duration::from_secs(1789)).await;
        assert!(
            calls(&recorder, "alice").is_empty(),
            "not before expiry minus the new margin"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(calls(&recorder, "alice"), [1800]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_shorter_lived_than_twice_the_margin_is_refreshed_at_half_life_not_in_a_loop() {
        // Every refresh gets a token for 120 s; margin and jitter are 5 and 1 minutes.
        let config = SchedulerConfig {
            jitter: Duration::from_secs(60),
            ..SchedulerConfig::default()
        };
        let (scheduler, recorder, clock) = start_renewing(config, 120);
        scheduler.track(tracked("alice", 120, &clock));
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert!(calls(&recorder, "alice").is_empty(), "not before half-life");
        tokio::time::sleep(Duration::from_secs(60 * 3 + 2)).await;
        assert_eq!(calls(&recorder, "alice"), [60, 120, 180, 240]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refresh_is_announced_even_when_the_account_was_re_tracked_while_it_ran() {
        let (scheduler, recorder, clock) = start(config(), Box::new(|_, _| Ok(1_800_100_000)));
        let mut events = scheduler.subscribe();
        scheduler.track(tracked("slow-one", 0, &clock));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(calls(&recorder, "slow-one"), [0], "running");
        scheduler.track(tracked("slow-one", 7200, &clock));
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(
            events.try_recv().ok(),
            Some(SchedulerEvent::Refreshed {
                account: "slow-one".into(),
                expires_at: 1_800_100_000,
            })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn overdue_accounts_go_earliest_expiry_first_and_the_already_dead_last() {
        let config = SchedulerConfig {
            jitter: Duration::ZERO,
            max_requests_per_second: 1,
            ..SchedulerConfig::default()
        };
        let (scheduler, recorder, clock) = start_renewing(config, 3600);
        // Tracked in the store's order, not by expiry; a margin of 300 s makes all but
        // `later` overdue at once, and `dead`'s token has already expired.
        for (account, expires_in) in [("later", 500), ("dead", 0), ("b", 250), ("a", 100)] {
            scheduler.track(Tracked {
                last_refreshed_at: clock.now() + expires_in - 3600,
                ..tracked(account, expires_in, &clock)
            });
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        let order: Vec<(String, u64)> = recorder.calls.lock().unwrap().clone();
        assert_eq!(
            order,
            [
                ("a".to_owned(), 0),
                ("b".to_owned(), 1),
                ("dead".to_owned(), 2)
            ],
            "one a second, earliest expiry first, the hopeless one after those still valid"
        );
        tokio::time::sleep(Duration::from_secs(200)).await;
        assert_eq!(calls(&recorder, "later"), [200]);
    }

    #[tokio::test(start_paused = true)]
    async fn under_overload_tokens_that_would_die_in_the_queue_wait_for_those_that_will_not() {
        let config = SchedulerConfig {
            jitter: Duration::ZERO,
            max_requests_per_second: 1,
            ..SchedulerConfig::default()
        };
        let (scheduler, recorder, clock) = start(config, Box::new(|_, _| Ok(1_800_100_000)));
        // At the edge: saved with the first two slots (0 and 1 s), not with the third.
        let edge = SAVABLE_SLACK.as_secs() as i64 + 2;
        for (account, expires_in) in [("x1", edge), ("x2", edge), ("x3", edge), ("z", 50)] {
            scheduler.track(Tracked {
                last_refreshed_at: clock.now() + expires_in - 3600,
                ..tracked(account, expires_in, &clock)
            });
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        let order = refreshed_in_order(&recorder);
        // One request a second, and a refresh may come up to SAVABLE_SLACK later than its
        // slot: x1 and x2 (slots 0 and 1) can make it; x3 would go with its token at the edge
        // of death, so z (still savable) goes first.
        assert_eq!(order, ["x1", "x2", "z", "x3"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_with_under_a_second_left_is_refreshed_first_not_given_up() {
        let config = SchedulerConfig {
            jitter: Duration::ZERO,
            max_requests_per_second: 1,
            max_concurrent: 1,
            ..SchedulerConfig::default()
        };
        let (scheduler, recorder, clock) = start_renewing(config, 3600);
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Good until the next whole second: 0.7 s left, with three others due behind it.
        for (account, expires_in) in [("later-1", 6), ("soon", 1), ("later-2", 7), ("later-3", 8)] {
            scheduler.track(Tracked {
                last_refreshed_at: clock.now() - 3600,
                ..tracked(account, expires_in, &clock)
            });
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        let order = refreshed_in_order(&recorder);
        assert_eq!(order, ["soon", "later-1", "later-2", "later-3"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_falling_due_during_a_backlog_goes_before_the_hopeless_ones() {
        let config = SchedulerConfig {
            jitter: Duration::ZERO,
            max_requests_per_second: 1,
            max_concurrent: 1,
            ..SchedulerConfig::default()
        };
        let (scheduler, recorder, clock) = start_renewing(config, 3600);
        for index in 0..10 {
            scheduler.track(Tracked {
                last_refreshed_at: clock.now() - 3600,
                ..tracked(&format!("dead-{index}"), 0, &clock)
            });
        }
        // Falls due 5 s in (expiry minus the 300 s margin), while the dead ones still wait.
        scheduler.track(Tracked {
            last_refreshed_at: clock.now() - 3600,
            ..tracked("fresh", 305, &clock)
        });
        tokio::time::sleep(Duration::from_secs(20)).await;
        let fresh = calls(&recorder, "fresh");
        assert!(
            fresh.len() == 1 && fresh[0] <= 6,
            "refreshed as it fell due, not after the 10 dead tokens: {fresh:?}"
        );
        let dead = recorder
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, _)| name.starts_with("dead-"))
            .count();
        assert_eq!(dead, 10, "the dead ones are still refreshed, one a second");
    }

    #[tokio::test(start_paused = true)]
    async fn refreshes_come_at_expiry_minus_the_margin_and_repeat() {
        let (scheduler, recorder, clock) = start_renewing(config(), 3600);
        let mut events = scheduler.subscribe();
        scheduler.track(tracked("alice", 600, &clock));
        tokio::time::sleep(Duration::from_secs(299)).await;
        assert!(
            calls(&recorder, "alice").is_empty(),
            "nothing before expiry minus margin"
        );
        tokio::time::sleep(Duration::from_secs(3600 + 10)).await;
        assert_eq!(calls(&recorder, "alice"), [300, 300 + 3300]);
        assert!(matches!(
            events.recv().await.unwrap(),
            SchedulerEvent::Refreshed { .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn errors_by_class_throttled_transient_and_needs_sign_in() {
        let (scheduler, recorder, clock) = start(
            config(),
            Box::new(|account, attempt| match (account, attempt) {
                ("throttled", 1) => Err(failure("", 429, Some(30))),
                ("flaky", 1..=3) => Err(failure("temporarily_unavailable", 503, None)),
                ("dead", _) => Err(failure("invalid_grant", 400, None)),
                _ => Ok(i64::MAX / 2),
            }),
        );
        let mut events = scheduler.subscribe();
        for account in ["throttled", "flaky", "dead"] {
            scheduler.track(tracked(account, 0, &clock));
        }
        tokio::time::sleep(Duration::from_secs(120)).await;
        let throttled = calls(&recorder, "throttled");
        assert_eq!(throttled.len(), 2);
        assert!(
            throttled[1] - throttled[0] >= 30,
            "Retry-After honoured: {throttled:?}"
        );
        let flaky = calls(&recorder, "flaky");
        let gaps: Vec<u64> = flaky.windows(2).map(|pair| pair[1] - pair[0]).collect();
        assert_eq!(gaps, [5, 10, 20], "exponential backoff: {flaky:?}");
        assert_eq!(
            calls(&recorder, "dead").len(),
            1,
            "no retry until the person acts"
        );
        let mut attention = Vec::new();
        while let Ok(event) = events.try_recv() {
            if let SchedulerEvent::NeedsAttention { account, code } = event {
                attention.push((account, code));
            }
        }
        assert_eq!(attention, [("dead".to_owned(), "needs_sign_in".to_owned())]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_request_cap_holds_and_a_slow_account_holds_nobody_up() {
        let (scheduler, recorder, clock) = start(config(), Box::new(|_, _| Ok(i64::MAX / 2)));
        scheduler.track(tracked("slow-one", 0, &clock));
        for index in 0..50 {
            scheduler.track(tracked(&format!("account-{index}"), 0, &clock));
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
        let mut starts: Vec<u64> = recorder
            .calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, _)| name.starts_with("account-"))
            .map(|(_, at)| *at)
            .collect();
        starts.sort();
        assert_eq!(starts.len(), 50, "every account refreshed while one hangs");
        for second in 0..5 {
            let in_second = starts.iter().filter(|at| **at == second).count();
            assert!(in_second <= 10, "{in_second} requests in second {second}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_wall_clock_jump_is_noticed_within_a_minute() {
        let (scheduler, recorder, clock) = start(config(), Box::new(|_, _| Ok(i64::MAX / 2)));
        let mut events = scheduler.subscribe();
        scheduler.track(tracked("alice", 3600, &clock));
        tokio::time::sleep(Duration::from_secs(10)).await;
        // The machine slept for two hours: monotonic time stood still, wall time moved.
        clock.jumped.store(7200, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert_eq!(
            calls(&recorder, "alice").len(),
            1,
            "the overdue token was refreshed"
        );
        assert!(
            matches!(events.recv().await.unwrap(), SchedulerEvent::ClockJumped { by_s } if by_s >= 7200)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_accounts_are_only_kept_alive_and_untracked_ones_left_alone() {
        let (scheduler, recorder, clock) = start(config(), Box::new(|_, _| Ok(i64::MAX / 2)));
        scheduler.track(Tracked {
            keep_fresh: false,
            ..tracked("idle", 600, &clock)
        });
        scheduler.track(tracked("gone", 600, &clock));
        scheduler.untrack("gone");
        tokio::time::sleep(Duration::from_secs(13 * 24 * 3600)).await;
        assert!(calls(&recorder, "idle").is_empty());
        tokio::time::sleep(Duration::from_secs(2 * 24 * 3600)).await;
        assert_eq!(
            calls(&recorder, "idle").len(),
            1,
            "kept alive after 14 days"
        );
        assert!(calls(&recorder, "gone").is_empty());
    }
}
