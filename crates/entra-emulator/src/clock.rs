//! The emulator's clock: real time plus an offset that configuration and the control API move.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    initial_offset_ms: i64,
}

impl Clock {
    pub fn new(offset_seconds: i64) -> Self {
        let initial_offset_ms = offset_seconds.saturating_mul(1000);
        Clock {
            offset_ms: Arc::new(AtomicI64::new(initial_offset_ms)),
            initial_offset_ms,
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        let real = OffsetDateTime::now_utc();
        real.checked_add(Duration::milliseconds(
            self.offset_ms.load(Ordering::SeqCst),
        ))
        .unwrap_or(real)
    }

    /// Seconds since the Unix epoch on the emulator's clock.
    pub fn unix(&self) -> i64 {
        self.now().unix_timestamp()
    }

    pub fn advance(&self, seconds: i64) {
        self.offset_ms
            .fetch_add(seconds.saturating_mul(1000), Ordering::SeqCst);
    }

    pub fn offset_seconds(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst) / 1000
    }

    pub fn reset(&self) {
        self.offset_ms
            .store(self.initial_offset_ms, Ordering::SeqCst);
    }
}

/// `at + seconds`, saturating at the end of representable time.
pub fn later(at: OffsetDateTime, seconds: i64) -> OffsetDateTime {
    at.checked_add(Duration::seconds(seconds))
        .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc())
}

/// `2016-01-09 02:02:12Z`, the timestamp format of Microsoft's error responses.
pub fn aad_timestamp(at: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// RFC 3339 without fractional seconds, as Graph and the assertion errors print times.
pub fn iso(at: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}
