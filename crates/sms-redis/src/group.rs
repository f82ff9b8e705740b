//! Calls written together: concurrent calls of one kind on one [`RedisState`] (and its clones) share
//! round trips, through `sms_failover::state::CallGroup`. Alone, a call is one round trip, as
//! before; with many calls in flight, one script call serves many. A caller that goes away never
//! cuts short the call carrying other callers' jobs.

use std::future::Future;
use std::pin::Pin;

use sms_core::Error;
use sms_failover::state::{CallGroup, backend_unavailable};

use crate::BACKEND_NAME;
use crate::connection::RedisState;

/// One script call for a batch of jobs: one answer per job, in order, or one error for all.
pub(crate) type BatchCall<J, R> =
    fn(RedisState, Vec<J>) -> Pin<Box<dyn Future<Output = Result<Vec<R>, Error>> + Send>>;

/// The jobs of one kind not yet sent.
pub(crate) struct Group<J, R>(CallGroup<J, R, Error>);

impl<J, R> Default for Group<J, R> {
    fn default() -> Self {
        Self(CallGroup::default())
    }
}

impl<J: Send + 'static, R: Send + 'static> Group<J, R> {
    /// Sends `job`, together with whatever other jobs are waiting (at most `max` per call), and
    /// returns its answer. `check` names the check in errors.
    pub(crate) async fn call(
        &self,
        state: &RedisState,
        job: J,
        max: usize,
        check: &'static str,
        batch: BatchCall<J, R>,
    ) -> Result<R, Error> {
        let state = state.clone();
        self.0
            .call(
                job,
                max,
                move |jobs| batch(state.clone(), jobs),
                |fault| backend_unavailable(BACKEND_NAME, check, fault),
            )
            .await
    }
}
