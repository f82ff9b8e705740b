//! Failing open, as an explicit choice per trait: a backend error is logged and the chain carries on
//! as if the state said "go".

use std::time::Duration;

use async_trait::async_trait;
use sms_core::{ClientReference, Error, PhoneNumber};

use super::{
    Adjustment, Admission, BreakerSharing, ChainState, Charge, IdempotencyStore, RecipientLimiter,
    RecordedOutcome, Reservation, SharedBreaker, SpendAdmission, SpendLedger, StartAnswer, StartRequest,
    SuppressionList,
};
use crate::limits::LimitWindow;

/// Wraps a state backend so that its failures let messages through instead of stopping them: an
/// opt-out list that cannot answer lists nobody, a limiter admits, an idempotency store reserves, a
/// shared breaker reads as closed (each chain's own breakers still work). Every such failure is
/// logged at `WARN`.
///
/// This trades the guarantees for availability: an opted-out number may get a message, a number may
/// go over its limit, a reference may be sent twice. Choose it per trait, knowingly:
///
/// ```
/// use std::sync::Arc;
/// use sms_failover::state::{FailOpen, InMemoryRecipientLimiter};
/// use sms_failover::{FailoverSender, SystemClock};
/// let limiter = Arc::new(FailOpen::new(InMemoryRecipientLimiter::new(Arc::new(SystemClock))));
/// let builder = FailoverSender::builder().recipient_limiter(limiter);
/// ```
#[derive(Debug, Clone)]
pub struct FailOpen<T> {
    inner: T,
}

impl<T> FailOpen<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Self { inner }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &T {
        &self.inner
    }
}

fn warn(check: &str, error: &Error) {
    tracing::warn!(check, error = %error, "state backend failed; failing open as configured");
}

#[async_trait]
impl<T: SuppressionList> SuppressionList for FailOpen<T> {
    async fn suppressed(&self, numbers: &[PhoneNumber]) -> Result<Vec<bool>, Error> {
        Ok(self.inner.suppressed(numbers).await.unwrap_or_else(|e| {
            warn("opt-outs", &e);
            vec![false; numbers.len()]
        }))
    }

    async fn suppress(&self, number: &PhoneNumber) -> Result<(), Error> {
        // Recording an opt-out must not be lost silently: the error goes to the caller.
        self.inner.suppress(number).await
    }

    async fn unsuppress(&self, number: &PhoneNumber) -> Result<bool, Error> {
        self.inner.unsuppress(number).await
    }
}

#[async_trait]
impl<T: RecipientLimiter> RecipientLimiter for FailOpen<T> {
    async fn admit(
        &self,
        scope: &str,
        numbers: &[PhoneNumber],
        windows: &[LimitWindow],
    ) -> Result<Vec<Admission>, Error> {
        Ok(self
            .inner
            .admit(scope, numbers, windows)
            .await
            .unwrap_or_else(|e| {
                warn("recipient limits", &e);
                vec![Admission::Admitted; numbers.len()]
            }))
    }
}

#[async_trait]
impl<T: IdempotencyStore> IdempotencyStore for FailOpen<T> {
    async fn reserve(&self, reference: &ClientReference, retention: Duration) -> Result<Reservation, Error> {
        Ok(self
            .inner
            .reserve(reference, retention)
            .await
            .unwrap_or_else(|e| {
                warn("idempotency", &e);
                Reservation::Reserved
            }))
    }

    async fn complete(
        &self,
        reference: &ClientReference,
        outcome: &RecordedOutcome,
        retention: Duration,
    ) -> Result<(), Error> {
        self.inner.complete(reference, outcome, retention).await
    }

    async fn release(&self, reference: &ClientReference) -> Result<(), Error> {
        self.inner.release(reference).await
    }
}

#[async_trait]
impl<T: BreakerSharing> BreakerSharing for FailOpen<T> {
    async fn admit(&self, provider: &str, probe_lease: Duration) -> Result<SharedBreaker, Error> {
        Ok(self.inner.admit(provider, probe_lease).await.unwrap_or_else(|e| {
            warn("breaker sharing", &e);
            SharedBreaker::Closed
        }))
    }

    async fn trip(&self, provider: &str, cool_down: Duration) -> Result<(), Error> {
        self.inner.trip(provider, cool_down).await
    }

    async fn close(&self, provider: &str) -> Result<(), Error> {
        self.inner.close(provider).await
    }

    async fn release_probe(&self, provider: &str) -> Result<(), Error> {
        self.inner.release_probe(provider).await
    }
}

/// A whole state failing open: when the start's step fails, the message goes on as if the reference
/// were reserved, nobody opted out, the shared breaker were closed and every recipient admitted.
#[async_trait]
impl<T: ChainState> ChainState for FailOpen<T> {
    async fn start(&self, request: &StartRequest<'_>) -> Result<StartAnswer, Error> {
        Ok(self.inner.start(request).await.unwrap_or_else(|e| {
            warn("the message's start", &e);
            let count = request.numbers.len();
            StartAnswer {
                reservation: request.reservation.map(|_| Reservation::Reserved),
                suppressed: vec![false; count],
                breaker: request.breaker.map(|_| SharedBreaker::Closed),
                admissions: request.limits.map(|_| vec![Admission::Admitted; count]),
            }
        }))
    }
}

/// Spend caps failing open: a ledger that cannot answer admits every charge (as if each counter
/// stood at zero) and forgets adjustments. The caps then no longer bound anything while the backend
/// is down; this is why failing open is never the default.
#[async_trait]
impl<T: SpendLedger> SpendLedger for FailOpen<T> {
    async fn charge(&self, charges: &[Charge], now: u64) -> Result<SpendAdmission, Error> {
        Ok(self.inner.charge(charges, now).await.unwrap_or_else(|e| {
            warn("spend caps", &e);
            SpendAdmission::Reserved {
                used: charges.iter().map(|c| c.amount).collect(),
            }
        }))
    }

    async fn settle(&self, adjustments: &[Adjustment], now: u64) -> Result<(), Error> {
        if let Err(e) = self.inner.settle(adjustments, now).await {
            warn("spend caps", &e);
        }
        Ok(())
    }

    async fn usage(&self, counters: &[String]) -> Result<Vec<u64>, Error> {
        self.inner.usage(counters).await
    }
}
