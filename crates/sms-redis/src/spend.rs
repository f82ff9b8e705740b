//! Spend caps: one counter per cap and period (`{prefix}:spend:overall:parts:day:2026-11-28`, a hash
//! of its value and its expiry by the chain's clock),
//! reserved all-or-nothing by one script call, so that every instance on the server counts exactly.

use async_trait::async_trait;
use sms_core::Error;
use sms_failover::state::{Adjustment, Charge, SpendAdmission, SpendLedger, backend_unavailable};

use crate::BACKEND_NAME;
use crate::connection::RedisState;

const CHECK: &str = "spend caps";

#[async_trait]
impl SpendLedger for RedisState {
    async fn charge(&self, charges: &[Charge], now: u64) -> Result<SpendAdmission, Error> {
        if charges.is_empty() {
            return Ok(SpendAdmission::Reserved { used: Vec::new() });
        }
        let mut call = self.scripts().spend_reserve.prepare_invoke();
        call.arg(now);
        for charge in charges {
            call.key(self.key("spend", &[&charge.counter]))
                .arg(charge.amount)
                .arg(charge.limit)
                .arg(charge.expires_at);
        }
        let answer: Vec<u64> = self.invoke(CHECK, &call).await?;
        let unexpected = || backend_unavailable(BACKEND_NAME, CHECK, "an unexpected answer");
        match answer.split_first() {
            Some((1, used)) if used.len() == charges.len() => {
                Ok(SpendAdmission::Reserved { used: used.to_vec() })
            }
            Some((0, [index, used])) => {
                let index = usize::try_from(*index)
                    .ok()
                    .and_then(|i| i.checked_sub(1))
                    .filter(|i| *i < charges.len())
                    .ok_or_else(unexpected)?;
                Ok(SpendAdmission::Refused { index, used: *used })
            }
            _ => Err(unexpected()),
        }
    }

    async fn settle(&self, adjustments: &[Adjustment], now: u64) -> Result<(), Error> {
        if adjustments.is_empty() {
            return Ok(());
        }
        let mut call = self.scripts().spend_adjust.prepare_invoke();
        call.arg(now);
        for adjustment in adjustments {
            call.key(self.key("spend", &[&adjustment.counter]))
                .arg(adjustment.delta)
                .arg(adjustment.expires_at);
        }
        self.invoke::<i64>(CHECK, &call).await.map(drop)
    }

    async fn usage(&self, counters: &[String]) -> Result<Vec<u64>, Error> {
        if counters.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for counter in counters {
            pipe.hget(self.key("spend", &[counter]), "u");
        }
        let mut connection = self.connection();
        let found: Vec<Option<u64>> = self
            .run(CHECK, async move { pipe.query_async(&mut connection).await })
            .await?;
        Ok(found.into_iter().map(Option::unwrap_or_default).collect())
    }
}
