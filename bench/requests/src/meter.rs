//! What one request costs, split into the store's part and ours.
//!
//! [`TimedBackend`] wraps the store backend and adds up the time during which at least one
//! backend call was in flight: wall time, and CPU time of the runtime thread (where the DynamoDB
//! client does its work; SQLite runs on the blocking pool). Calls started together (`join!`) are
//! counted once, as the union of their intervals. A call to another service (an OpenID
//! Provider's token endpoint, in a [`EXTERNAL_CALL_SPAN`]) is counted with them, through
//! [`TimedBackend::quiet_logs`]: like a store call it is waiting for another service, and the
//! HTTP client's work meanwhile. [`thread_cpu`] reads the calling thread's CPU clock; on a
//! current-thread runtime that thread runs every request, while Argon2 and SQLite run on the
//! blocking pool and so never count as ours.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::collections::HashMap;

use async_trait::async_trait;
use shared::config::LogLevel;
use shared::store::{Backend, Condition, Item, Key, Page, Query, StoreError, Update, Write};
use shared::telemetry::{EXTERNAL_CALL_SPAN, Sink};
use tracing::span::{Attributes, Id};
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// CPU time the calling thread has used so far (user and system).
pub fn thread_cpu() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// Time spent with at least one store call in flight.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreTime {
    pub wall: Duration,
    /// CPU time of the runtime thread meanwhile (the client's work, not the server's).
    pub cpu: Duration,
}

impl std::ops::Sub for StoreTime {
    type Output = Self;

    fn sub(self, earlier: Self) -> Self {
        Self {
            wall: self.wall.saturating_sub(earlier.wall),
            cpu: self.cpu.saturating_sub(earlier.cpu),
        }
    }
}

#[derive(Default)]
struct Tally {
    in_flight: u32,
    /// When the current busy interval began (wall clock, thread CPU clock).
    busy_since: Option<(Instant, Duration)>,
    total: StoreTime,
}

/// A backend that delegates every call and adds up the time the calls take.
pub struct TimedBackend {
    inner: Arc<dyn Backend>,
    tally: Arc<Mutex<Tally>>,
}

/// Open while a call is in flight; closing it (even when the call is dropped half-way) ends the
/// busy interval if it was the last one.
struct InFlight(Arc<Mutex<Tally>>);

impl InFlight {
    fn start(tally: &Arc<Mutex<Tally>>) -> Self {
        let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
        if t.in_flight == 0 {
            t.busy_since = Some((Instant::now(), thread_cpu()));
        }
        t.in_flight += 1;
        Self(tally.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        t.in_flight = t.in_flight.saturating_sub(1);
        if t.in_flight == 0
            && let Some((wall, cpu)) = t.busy_since.take()
        {
            t.total.wall += wall.elapsed();
            t.total.cpu += thread_cpu().saturating_sub(cpu);
        }
    }
}

impl TimedBackend {
    pub fn new(inner: Arc<dyn Backend>) -> Self {
        Self {
            inner,
            tally: Arc::new(Mutex::new(Tally::default())),
        }
    }

    /// Store time so far; subtract two readings to get the time between them.
    pub fn total(&self) -> StoreTime {
        self.tally.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    /// Log lines built as in production (INFO, JSON) and dropped, with every
    /// [`EXTERNAL_CALL_SPAN`] counted as store time: the logs to time requests under.
    ///
    /// With two per-layer filters that disagree, tracing asks both about every INFO span and
    /// event instead of caching one answer per call site: tens of nanoseconds a log line,
    /// within noise in interleaved runs of `GET /v1/auth/me` (16, 15, 14 µs of own CPU with
    /// this layer; 17, 17, 16 without).
    pub fn quiet_logs(&self) -> Dispatch {
        let external_calls = ExternalCalls {
            tally: self.tally.clone(),
            open: Mutex::new(HashMap::new()),
        }
        .with_filter(
            filter_fn(|span| span.name() == EXTERNAL_CALL_SPAN)
                .with_max_level_hint(tracing::Level::DEBUG),
        );
        let logs = shared::telemetry::subscriber("bench", LogLevel::Info, Sink::Discard);
        Dispatch::new(logs.with(external_calls))
    }

    async fn timed<T>(&self, call: impl Future<Output = T>) -> T {
        let _in_flight = InFlight::start(&self.tally);
        call.await
    }
}

#[async_trait]
impl Backend for TimedBackend {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn get(&self, key: &Key, now: i64) -> Result<Option<Item>, StoreError> {
        self.timed(self.inner.get(key, now)).await
    }

    async fn put(
        &self,
        item: Item,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<(), StoreError> {
        self.timed(self.inner.put(item, condition, now)).await
    }

    async fn update(
        &self,
        key: &Key,
        updates: &[Update],
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Item, StoreError> {
        self.timed(self.inner.update(key, updates, condition, now))
            .await
    }

    async fn delete(
        &self,
        key: &Key,
        condition: Option<&Condition>,
        now: i64,
    ) -> Result<Option<Item>, StoreError> {
        self.timed(self.inner.delete(key, condition, now)).await
    }

    async fn query(&self, query: &Query, now: i64) -> Result<Page, StoreError> {
        self.timed(self.inner.query(query, now)).await
    }

    async fn transact(&self, writes: &[Write], now: i64) -> Result<(), StoreError> {
        self.timed(self.inner.transact(writes, now)).await
    }
}

/// The [`EXTERNAL_CALL_SPAN`]s open, each holding its call in flight until it closes.
struct ExternalCalls {
    tally: Arc<Mutex<Tally>>,
    open: Mutex<HashMap<Id, InFlight>>,
}

impl<S: Subscriber> Layer<S> for ExternalCalls {
    fn on_new_span(&self, _: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        // The filter lets only external call spans through.
        let in_flight = InFlight::start(&self.tally);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.insert(id.clone(), in_flight);
    }

    fn on_close(&self, id: Id, _: Context<'_, S>) {
        let ended = self
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        drop(ended);
    }
}

/// What one timed request cost.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub wall: Duration,
    /// Wall time with a store call (or an external call) in flight.
    pub store: Duration,
    /// CPU time of the runtime thread while a store call was in flight: the store client's work
    /// (on DynamoDB the SDK: serialising, signing, HTTP; on SQLite handing each call to the
    /// blocking pool and being woken; for an OpenID Provider reqwest's), which neither side of
    /// the table would see otherwise.
    pub client_cpu: Duration,
    /// CPU time of the runtime thread outside those calls: routing, extractors, validation,
    /// tokens (an ID token's parsing and signature check too), the handler's own work,
    /// serialisation, logs and metrics.
    pub own_cpu: Duration,
}

/// The `p`-th percentile (0–100, nearest rank) of `values`, which it sorts.
pub fn percentile(values: &mut [Duration], p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort_unstable();
    let rank = (p / 100.0 * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store whose reads burn `SPIN` of the calling thread's CPU, as the SDK's client work does.
    struct SpinningStore;

    const SPIN: Duration = Duration::from_millis(3);

    fn spin(for_cpu: Duration) {
        let until = thread_cpu() + for_cpu;
        while thread_cpu() < until {
            std::hint::spin_loop();
        }
    }

    #[async_trait]
    impl Backend for SpinningStore {
        fn name(&self) -> &'static str {
            "spinning"
        }
        async fn get(&self, _: &Key, _: i64) -> Result<Option<Item>, StoreError> {
            spin(SPIN);
            Ok(None)
        }
        async fn put(&self, _: Item, _: Option<&Condition>, _: i64) -> Result<(), StoreError> {
            Err(StoreError::Invalid("not used".to_owned()))
        }
        async fn update(
            &self,
            _: &Key,
            _: &[Update],
            _: Option<&Condition>,
            _: i64,
        ) -> Result<Item, StoreError> {
            Err(StoreError::Invalid("not used".to_owned()))
        }
        async fn delete(
            &self,
            _: &Key,
            _: Option<&Condition>,
            _: i64,
        ) -> Result<Option<Item>, StoreError> {
            Err(StoreError::Invalid("not used".to_owned()))
        }
        async fn query(&self, _: &Query, _: i64) -> Result<Page, StoreError> {
            Err(StoreError::Invalid("not used".to_owned()))
        }
        async fn transact(&self, _: &[Write], _: i64) -> Result<(), StoreError> {
            Err(StoreError::Invalid("not used".to_owned()))
        }
    }

    /// The client's CPU is the thread's CPU inside calls, alone or made together, and never the
    /// work between calls (which is ours).
    #[tokio::test(flavor = "current_thread")]
    async fn client_cpu_is_the_thread_cpu_of_calls_in_flight() {
        let meter = TimedBackend::new(Arc::new(SpinningStore));
        let key = Key::new("p", "s");
        meter.get(&key, 0).await.unwrap();
        let (a, b) = tokio::join!(meter.get(&key, 0), meter.get(&key, 0));
        assert!(a.unwrap().is_none() && b.unwrap().is_none());
        spin(SPIN);
        let total = meter.total();
        assert!(
            total.cpu >= SPIN * 3 && total.cpu < SPIN * 4,
            "three calls' spin and not the spin between them: {:?}",
            total.cpu
        );
        assert!(total.wall >= total.cpu, "{total:?}");
    }

    /// Work inside an external call's span counts as the store's, once even when a store call
    /// runs meanwhile; work in any other span is ours.
    #[tokio::test(flavor = "current_thread")]
    async fn external_calls_count_with_the_store() {
        use tracing::Instrument;

        let meter = TimedBackend::new(Arc::new(SpinningStore));
        let _logs = tracing::dispatcher::set_default(&meter.quiet_logs());
        let external = async { spin(SPIN) }
            .instrument(tracing::debug_span!(EXTERNAL_CALL_SPAN, service = "test"));
        external.await;
        async { spin(SPIN) }
            .instrument(tracing::debug_span!("not_external"))
            .await;
        let key = Key::new("p", "s");
        let together = async {
            spin(SPIN);
            meter.get(&key, 0).await
        }
        .instrument(tracing::debug_span!(EXTERNAL_CALL_SPAN, service = "test"));
        assert!(together.await.unwrap().is_none());
        let total = meter.total();
        assert!(
            total.cpu >= SPIN * 3 && total.cpu < SPIN * 4,
            "two calls' spin and the store call's inside one, not the other span's: {:?}",
            total.cpu
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut values: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        assert_eq!(percentile(&mut values, 50.0), Duration::from_micros(50));
        assert_eq!(percentile(&mut values, 99.0), Duration::from_micros(99));
        assert_eq!(percentile(&mut [], 50.0), Duration::ZERO);
    }
}
