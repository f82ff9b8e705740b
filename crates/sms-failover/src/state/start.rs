//! A message's start, asked of the state in one step: the reference reserved, the recipients' opt-outs
//! looked up, the first provider's shared breaker asked and the recipients counted against the limits,
//! all or nothing. A backend that holds all four parts of the state ([`ChainState`]) can answer it in
//! one round trip; otherwise the four traits are asked in turn ([`start_in_parts`]).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::join3;
use sms_core::{ClientReference, Error, PhoneNumber};

use super::{
    Admission, BreakerSharing, IdempotencyStore, RecipientLimiter, Reservation, SharedBreaker,
    SuppressionList,
};
use crate::limits::LimitWindow;
use crate::state::SpendLedger;

/// What a message's start asks of the state (see [`ChainState::start`]).
#[derive(Debug, Clone, Copy)]
pub struct StartRequest<'a> {
    /// The message's recipients, looked up in the opt-out list (and counted, see [`Self::limits`]).
    pub numbers: &'a [PhoneNumber],
    /// The client reference to reserve and its retention; `None` without idempotency.
    pub reservation: Option<(&'a ClientReference, Duration)>,
    /// The provider whose shared breaker to ask and the probe lease ([`BreakerSharing::admit`]);
    /// `None` to ask none.
    pub breaker: Option<(&'a str, Duration)>,
    /// The limits' scope and windows ([`RecipientLimiter::admit`]) to count the recipients that are
    /// not opted out in; `None` to count nothing.
    pub limits: Option<(&'a str, &'a [LimitWindow])>,
}

/// The state's answer to a [`StartRequest`]. Each part is present when it was asked and reached: the
/// checks run in order (reservation, opt-outs, breaker, limits), and a check that says "stop" ends
/// the step without anything after it looked at or written.
#[derive(Debug, Clone, PartialEq)]
pub struct StartAnswer {
    /// The reservation's outcome, when one was asked. Anything but [`Reservation::Reserved`] ends the
    /// step: nothing else was looked up or recorded.
    pub reservation: Option<Reservation>,
    /// For each recipient, in order, true when it opted out (empty when the step ended before).
    pub suppressed: Vec<bool>,
    /// The shared breaker's answer, when asked and reached. [`SharedBreaker::Open`] ends the step:
    /// nothing was counted against the limits.
    pub breaker: Option<SharedBreaker>,
    /// One verdict per recipient that is not opted out, in order, when limits were asked and reached.
    pub admissions: Option<Vec<Admission>>,
}

impl StartAnswer {
    fn stopped_at(reservation: Reservation) -> Self {
        Self {
            reservation: Some(reservation),
            suppressed: Vec::new(),
            breaker: None,
            admissions: None,
        }
    }
}

/// A backend that holds all four parts of a chain's state, and may answer the checks of a message's
/// start in one step ([`Self::start`]). Give it to a chain with
/// [`crate::FailoverSenderBuilder::shared_state`].
///
/// Implementing it takes nothing but the four traits: the default [`Self::start`] asks them in turn
/// ([`start_in_parts`]). A backend where each call is a round trip (Redis, a database) overrides it to
/// answer in one.
#[async_trait]
pub trait ChainState: SuppressionList + RecipientLimiter + IdempotencyStore + BreakerSharing {
    /// Answers a message's start, all or nothing, in this order:
    ///
    /// 1. reserves the reference ([`IdempotencyStore::reserve`]); when it is not free, stops there;
    /// 2. looks every recipient up in the opt-out list;
    /// 3. asks the provider's shared breaker ([`BreakerSharing::admit`], which may hand out the
    ///    probe); when it is open, stops there;
    /// 4. counts the recipients that are not opted out against the limits
    ///    ([`RecipientLimiter::admit`]: admitted ones are recorded, refused ones nowhere).
    ///
    /// # Errors
    /// When the backend cannot answer. Then nothing the step would have written stays, or (a
    /// backend that cannot tell, e.g. after a timeout) all of it may have been written: the
    /// reference may stay reserved without an outcome (unknown, never sent again), the limits' slots
    /// may be used, and a probe may be held until its lease ends. The chain sends nothing.
    async fn start(&self, request: &StartRequest<'_>) -> Result<StartAnswer, Error> {
        start_in_parts(self, self, Some(self), Some(self), request).await
    }
}

/// Every part of a chain's state on one backend, as one trait object: what
/// [`crate::FailoverSenderBuilder::shared_backend`] takes. Anything that implements [`ChainState`]
/// and [`SpendLedger`] is one.
pub trait SharedBackend: ChainState + SpendLedger {}

impl<T: ChainState + SpendLedger + ?Sized> SharedBackend for T {}

impl fmt::Debug for dyn SharedBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedBackend")
    }
}

impl fmt::Debug for dyn ChainState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChainState")
    }
}

/// [`ChainState::start`] on separate backends: the reservation, the opt-outs and the breaker asked at
/// once (one round trip of waiting), then the limits. What an earlier check took is given back when
/// a later one stops the step or fails: a probe handed out with a reservation that is not free, the
/// reservation and the probe when the opt-outs, the breaker or the limits cannot answer (best
/// effort: a failure to give back is logged).
///
/// `idempotency` and `sharing` may be `None` when the request asks no reservation or breaker.
///
/// # Errors
/// The first error of the checks.
pub async fn start_in_parts<S, L, I, B>(
    suppression: &S,
    limiter: &L,
    idempotency: Option<&I>,
    sharing: Option<&B>,
    request: &StartRequest<'_>,
) -> Result<StartAnswer, Error>
where
    S: SuppressionList + ?Sized,
    L: RecipientLimiter + ?Sized,
    I: IdempotencyStore + ?Sized,
    B: BreakerSharing + ?Sized,
{
    let idempotency = idempotency.filter(|_| request.reservation.is_some());
    let sharing = sharing.filter(|_| request.breaker.is_some());
    let reserve = async {
        match (idempotency, request.reservation) {
            (Some(store), Some((reference, retention))) => {
                store.reserve(reference, retention).await.map(Some)
            }
            _ => Ok(None),
        }
    };
    let breaker = async {
        match (sharing, request.breaker) {
            (Some(sharing), Some((provider, lease))) => sharing.admit(provider, lease).await.map(Some),
            _ => Ok(None),
        }
    };
    let (reservation, suppressed, breaker) =
        join3(reserve, suppression.suppressed(request.numbers), breaker).await;
    // Gives back what was taken when the step does not go on.
    let give_back = |reserved: bool, breaker: &Result<Option<SharedBreaker>, Error>| {
        let probe = matches!(breaker, Ok(Some(SharedBreaker::Probe)));
        async move {
            if probe
                && let (Some(sharing), Some((provider, _))) = (sharing, request.breaker)
                && let Err(error) = sharing.release_probe(provider).await
            {
                tracing::warn!(error = %error, "could not give back a probe");
            }
            if reserved
                && let (Some(store), Some((reference, _))) = (idempotency, request.reservation)
                && let Err(error) = store.release(reference).await
            {
                tracing::warn!(error = %error, "could not release the reference");
            }
        }
    };
    let reserved = match reservation {
        Ok(Some(Reservation::Reserved)) => true,
        Ok(None) => false,
        Ok(Some(other)) => {
            give_back(false, &breaker).await;
            return Ok(StartAnswer::stopped_at(other));
        }
        Err(error) => {
            give_back(false, &breaker).await;
            return Err(error);
        }
    };
    let failure = match (&suppressed, &breaker) {
        (Err(error), _) | (Ok(_), Err(error)) => Some(error.clone()),
        _ => None,
    };
    if let Some(error) = failure {
        give_back(reserved, &breaker).await;
        return Err(error);
    }
    let suppressed = suppressed.unwrap_or_default();
    let reservation = reserved.then_some(Reservation::Reserved);
    let breaker = breaker.unwrap_or(None);
    let stop_at_breaker = matches!(breaker, Some(SharedBreaker::Open { .. }));
    let admissions = match request.limits {
        Some((scope, windows)) if !stop_at_breaker => {
            let open: Vec<PhoneNumber> = request
                .numbers
                .iter()
                .zip(&suppressed)
                .filter(|(_, listed)| !**listed)
                .map(|(number, _)| number.clone())
                .collect();
            if open.is_empty() {
                Some(Vec::new())
            } else {
                match limiter.admit(scope, &open, windows).await {
                    Ok(admissions) => Some(admissions),
                    Err(error) => {
                        give_back(reserved, &Ok(breaker)).await;
                        return Err(error);
                    }
                }
            }
        }
        _ => None,
    };
    Ok(StartAnswer {
        reservation,
        suppressed,
        breaker,
        admissions,
    })
}
