//! Opt-outs: one key per number (`{prefix}:optout:+86…`), looked up for a whole batch with one `MGET`.

use async_trait::async_trait;
use sms_core::{Error, PhoneNumber};
use sms_failover::state::SuppressionList;

use crate::connection::RedisState;

const CHECK: &str = "opt-outs";

impl RedisState {
    pub(crate) fn opt_out_key(&self, number: &PhoneNumber) -> String {
        self.key("optout", &[&number.e164()])
    }
}

#[async_trait]
impl SuppressionList for RedisState {
    async fn suppressed(&self, numbers: &[PhoneNumber]) -> Result<Vec<bool>, Error> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = numbers.iter().map(|n| self.opt_out_key(n)).collect();
        let mut connection = self.connection();
        let found: Vec<Option<String>> = self
            .run(CHECK, async move {
                redis::cmd("MGET").arg(&keys).query_async(&mut connection).await
            })
            .await?;
        Ok(found.into_iter().map(|v| v.is_some()).collect())
    }

    async fn suppress(&self, number: &PhoneNumber) -> Result<(), Error> {
        let key = self.opt_out_key(number);
        let retention_ms = u64::try_from(self.opt_out_retention().as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut connection = self.connection();
        self.run(CHECK, async move {
            redis::cmd("SET")
                .arg(&key)
                .arg(1)
                .arg("PX")
                .arg(retention_ms)
                .query_async::<()>(&mut connection)
                .await
        })
        .await
    }

    async fn unsuppress(&self, number: &PhoneNumber) -> Result<bool, Error> {
        let key = self.opt_out_key(number);
        let mut connection = self.connection();
        let removed: i64 = self
            .run(CHECK, async move {
                redis::cmd("DEL").arg(&key).query_async(&mut connection).await
            })
            .await?;
        Ok(removed > 0)
    }
}
