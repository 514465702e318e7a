//! The one retry policy of the exchange: capped exponential backoff with jitter, for
//! deliveries to partners and webhooks to subscribers alike.

use std::time::Duration;

/// When to try a failed job again: capped exponential backoff with jitter. Deliveries to
/// partners and webhooks to subscribers both use it.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Receives before the queue moves the message to the DLQ (the queue's `maxReceiveCount`):
    /// the attempt on the last one records FAILED.
    pub max_receives: u32,
    /// First delay.
    pub base: Duration,
    /// Longest delay (SQS visibility allows at most 12 hours).
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_receives: 5,
            base: Duration::from_secs(30),
            cap: Duration::from_secs(15 * 60),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `receive_count + 1`: `base * 2^(n-1)` capped, with full jitter
    /// (uniform in [delay/2, delay]) so partners recovering from an outage are not hit by every
    /// sender at once; at least the partner's `Retry-After`, which is itself capped so a partner
    /// cannot park our deliveries for longer than `cap`.
    pub fn delay(&self, receive_count: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = receive_count.saturating_sub(1).min(20);
        let raw = self.base.saturating_mul(1u32 << exponent).min(self.cap);
        let mut byte = [0u8; 1];
        let jitter = if getrandom::getrandom(&mut byte).is_ok() {
            f64::from(byte[0]) / 255.0
        } else {
            0.5
        };
        let delay = raw.mul_f64(0.5 + jitter / 2.0);
        match retry_after {
            Some(after) => delay.max(after.min(self.cap)),
            None => delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_honours_retry_after() {
        let policy = RetryPolicy {
            max_receives: 10,
            base: Duration::from_secs(2),
            cap: Duration::from_secs(60),
        };
        let first = policy.delay(1, None);
        assert!(first >= Duration::from_secs(1) && first <= Duration::from_secs(2));
        let fourth = policy.delay(4, None);
        assert!(fourth >= Duration::from_secs(8) && fourth <= Duration::from_secs(16));
        assert!(policy.delay(30, None) <= Duration::from_secs(60));
        assert!(policy.delay(1, Some(Duration::from_secs(40))) >= Duration::from_secs(40));
        assert!(policy.delay(1, Some(Duration::from_secs(4000))) <= Duration::from_secs(60));
    }
}
