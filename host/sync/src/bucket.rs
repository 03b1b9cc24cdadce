//! A token bucket: the global rate cap that quinn 0.11 does not have.

use std::time::{Duration, Instant};

/// Bytes may go out at `rate` per second on average, in bursts of up to `burst`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket. `rate` is bytes per second; `None` means no cap.
    pub fn new(rate: Option<u64>, burst: u64, now: Instant) -> TokenBucket {
        let rate = rate.map_or(f64::INFINITY, |r| r.max(1) as f64);
        TokenBucket {
            rate,
            burst: burst as f64,
            tokens: burst as f64,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = self.last.max(now);
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
    }

    /// Takes `cost` tokens if there are enough (a cost over the burst needs a full bucket).
    pub fn try_take(&mut self, cost: u64, now: Instant) -> bool {
        if self.rate.is_infinite() {
            return true;
        }
        self.refill(now);
        let need = (cost as f64).min(self.burst);
        if self.tokens >= need {
            self.tokens -= cost as f64;
            true
        } else {
            false
        }
    }

    /// When `cost` tokens will be there.
    pub fn ready_at(&mut self, cost: u64, now: Instant) -> Instant {
        if self.rate.is_infinite() {
            return now;
        }
        self.refill(now);
        let need = (cost as f64).min(self.burst) - self.tokens;
        if need <= 0.0 {
            now
        } else {
            now + Duration::from_secs_f64(need / self.rate)
        }
    }
}
