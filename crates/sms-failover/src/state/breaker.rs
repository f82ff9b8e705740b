//! Breaker trips shared between instances: a provider one instance finds failing is skipped by all,
//! and after the cool-down exactly one instance probes it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sms_core::Error;

use crate::clock::Clock;

/// What the shared breaker of a provider says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedBreaker {
    /// No instance reports the provider failing: go on with this instance's own breaker.
    Closed,
    /// Open (an instance tripped it and the cool-down runs), or another instance's probe is in
    /// flight: skip the provider. `wait` is the time left, when known.
    Open {
        /// Time until a probe may be taken (zero while another instance probes).
        wait: Duration,
    },
    /// The cool-down is over and this caller, alone of all instances, takes the probe: report its
    /// result with [`BreakerSharing::close`] or [`BreakerSharing::trip`], or give it back with
    /// [`BreakerSharing::release_probe`].
    Probe,
}

/// Breaker state shared by the instances of an application, per provider (a chain member's name).
///
/// Each chain still counts failures with its own breakers; when one of them opens, the chain reports
/// the trip here, and every chain sharing this state skips the provider until the cool-down ends.
/// Then exactly one caller is handed the probe; its success closes the breaker for all, its failure
/// trips it again. A probe whose caller vanished (a crash) is handed to another caller once its lease
/// has passed.
///
/// # Errors
/// When the backend cannot answer. [`Self::admit`] failing stops the send (nothing goes to any
/// provider); the chain only logs failures of the other methods, which report what already happened.
#[async_trait]
pub trait BreakerSharing: Send + Sync {
    /// Asks whether a request may go to `provider`; hands out the probe when the cool-down is over
    /// (held for at most `probe_lease`: the longest a request can take).
    async fn admit(&self, provider: &str, probe_lease: Duration) -> Result<SharedBreaker, Error>;

    /// Opens `provider`'s breaker for every instance for `cool_down` from now (a probe failed, or a
    /// chain's own breaker opened).
    async fn trip(&self, provider: &str, cool_down: Duration) -> Result<(), Error>;

    /// The probe succeeded: closes `provider`'s breaker for every instance.
    async fn close(&self, provider: &str) -> Result<(), Error>;

    /// The probe ended without a verdict (cut short by a deadline): the next caller may probe.
    async fn release_probe(&self, provider: &str) -> Result<(), Error>;
}

impl fmt::Debug for dyn BreakerSharing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BreakerSharing")
    }
}

#[derive(Debug, Clone, Copy)]
enum Shared {
    Open {
        until: Instant,
    },
    Probing {
        lease_until: Instant,
        open_until: Instant,
    },
}

/// [`BreakerSharing`] in this process's memory, for chains built separately in one process (a chain's
/// clones already share their breakers). Never fails.
pub struct InMemoryBreakerSharing {
    clock: Arc<dyn Clock>,
    providers: Mutex<HashMap<String, Shared>>,
}

impl fmt::Debug for InMemoryBreakerSharing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryBreakerSharing").finish_non_exhaustive()
    }
}

impl InMemoryBreakerSharing {
    /// No breaker open, timed by `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            providers: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Shared>> {
        self.providers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl BreakerSharing for InMemoryBreakerSharing {
    async fn admit(&self, provider: &str, probe_lease: Duration) -> Result<SharedBreaker, Error> {
        let now = self.clock.now();
        let mut providers = self.lock();
        let Some(state) = providers.get_mut(provider) else {
            return Ok(SharedBreaker::Closed);
        };
        let open_until = match *state {
            Shared::Open { until } if now < until => {
                return Ok(SharedBreaker::Open { wait: until - now });
            }
            Shared::Probing { lease_until, .. } if now < lease_until => {
                return Ok(SharedBreaker::Open { wait: Duration::ZERO });
            }
            Shared::Open { until } => until,
            Shared::Probing { open_until, .. } => open_until,
        };
        *state = Shared::Probing {
            lease_until: now.checked_add(probe_lease).unwrap_or(now),
            open_until,
        };
        Ok(SharedBreaker::Probe)
    }

    async fn trip(&self, provider: &str, cool_down: Duration) -> Result<(), Error> {
        let now = self.clock.now();
        let until = now.checked_add(cool_down).unwrap_or(now);
        self.lock().insert(provider.to_owned(), Shared::Open { until });
        Ok(())
    }

    async fn close(&self, provider: &str) -> Result<(), Error> {
        self.lock().remove(provider);
        Ok(())
    }

    async fn release_probe(&self, provider: &str) -> Result<(), Error> {
        let mut providers = self.lock();
        if let Some(state) = providers.get_mut(provider)
            && let Shared::Probing { open_until, .. } = *state
        {
            *state = Shared::Open { until: open_until };
        }
        Ok(())
    }
}
