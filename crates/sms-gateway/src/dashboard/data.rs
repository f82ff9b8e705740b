//! What the dashboard reads and changes, through the store's and the chain's interfaces only (the
//! same ones the `/v1` API uses); the page modules only render what this returns.

use std::time::Duration;

use sms_core::PhoneNumber;
use sms_failover::adaptive::{Evidence, WeightChange};
use sms_failover::{AdaptiveRouter, ProviderHealth, Strategy};
use sms_store::{
    BatchSummary, InboundRecord, Millis, ProviderActivity, ReceiptRecord, RecipientQuery, RecipientRecord,
    StoreReports, StoredMessage, Suppression,
};

use crate::app::AppState;

/// How long a balance query may take before the page shows it as unknown.
const BALANCE_TIMEOUT: Duration = Duration::from_secs(3);
/// One hour, in milliseconds.
pub(crate) const HOUR: Millis = 60 * 60 * 1000;
/// The chart's span and slot.
pub(crate) const CHART_SPAN: Millis = 24 * HOUR;
pub(crate) const CHART_SLOT: Millis = HOUR / 2;

/// A failure to read, in words for the page (never a number or a secret: store errors name the
/// operation only).
pub(crate) type ReadResult<T> = Result<T, String>;

fn store_error(e: &sms_store::StoreError) -> String {
    tracing::warn!(error = %e, "the dashboard could not read the store");
    format!("the message store could not be read ({:?})", e.kind())
}

/// The store's reports, or why there are none.
fn reports(state: &AppState) -> ReadResult<&dyn StoreReports> {
    state
        .store()
        .reports()
        .ok_or_else(|| "this message store has no reports for the dashboard".to_owned())
}

/// Now, in store milliseconds.
pub(crate) fn now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One provider as the providers page shows it.
#[derive(Debug, Clone)]
pub(crate) struct ProviderRow {
    pub name: String,
    pub vendor: &'static str,
    pub in_chain: bool,
    pub priority: u32,
    /// The configured weight (the chain's current weight until adaptive routing reports its own).
    pub weight: u32,
    pub health: Option<ProviderHealth>,
    /// The balance, or why it is unknown.
    pub balance: Result<(i64, String), String>,
    pub low_balance: Option<u64>,
    pub price_per_part: Option<f64>,
}

/// Everything on the providers page.
#[derive(Debug)]
pub(crate) struct ProvidersView {
    pub rows: Vec<ProviderRow>,
    /// Outcomes over the last hour, in one bucket per provider.
    pub last_hour: ProviderActivity,
    /// Outcomes over the last 24 h in [`CHART_SLOT`] buckets from `chart_since`.
    pub chart: ProviderActivity,
    pub chart_since: Millis,
    pub outbox_depth: Option<u64>,
    /// The routing weights: the adaptive router's, or the strategy's name when they are fixed.
    pub weights: Weights,
}

/// The chain's weights as the providers page shows them.
#[derive(Debug, Clone)]
pub(crate) enum Weights {
    /// The chain's weights are the configured ones (`strategy` is not `adaptive`).
    Fixed {
        /// The strategy's name as written in the config.
        strategy: &'static str,
    },
    /// Adaptive routing: its weights now and its latest changes.
    Adaptive(AdaptiveView),
}

/// Adaptive routing's weights now and its changes, in points of 100.
#[derive(Debug, Clone)]
pub(crate) struct AdaptiveView {
    /// Per provider, in priority order.
    pub now: Vec<WeightNow>,
    /// The latest changes, oldest first.
    pub changes: Vec<WeightChangeView>,
}

/// One provider's weights now.
#[derive(Debug, Clone)]
pub(crate) struct WeightNow {
    pub name: String,
    /// The weight routing uses now (overrides applied).
    pub current: u32,
    /// The learned weight (without overrides).
    pub learned: u32,
    pub resting: u32,
    /// The evidence of the last evaluation.
    pub evidence: Evidence,
}

/// One change of the learned weights.
#[derive(Debug, Clone)]
pub(crate) struct WeightChangeView {
    pub at: Millis,
    pub reason: String,
    /// Per provider: name, before, after, evidence.
    pub providers: Vec<(String, u32, u32, Evidence)>,
}

/// How many stored weight changes the page reads: the table shows the latest of them, the chart
/// those of its 24 h.
const CHANGES_READ: u32 = 100;

/// The chain's weights and their latest changes. The one place that knows where they come from: the
/// weights now from the router, the changes from the store's weight log (shared by every instance
/// on the store, kept across restarts).
pub(crate) async fn weights(state: &AppState) -> ReadResult<Weights> {
    match state.chain().adaptive_router() {
        Some(router) => Ok(Weights::Adaptive(AdaptiveView {
            now: weights_now(router),
            changes: stored_changes(state).await?,
        })),
        None => Ok(Weights::Fixed {
            strategy: strategy_name(state.config().chain().strategy),
        }),
    }
}

/// What `router` routes by now.
fn weights_now(router: &AdaptiveRouter) -> Vec<WeightNow> {
    router
        .snapshot()
        .into_iter()
        .map(|p| WeightNow {
            name: p.name,
            current: p.after,
            learned: p.before,
            resting: p.resting,
            evidence: p.evidence,
        })
        .collect()
}

/// The latest stored changes, oldest first. A change that cannot be read is left out (and logged)
/// rather than hiding the others.
async fn stored_changes(state: &AppState) -> ReadResult<Vec<WeightChangeView>> {
    let stored = state
        .store()
        .weight_changes(CHANGES_READ)
        .await
        .map_err(|e| store_error(&e))?;
    Ok(stored
        .iter()
        .rev()
        .filter_map(|s| match WeightChange::from_json(&s.body) {
            Ok(change) => Some(change_view(change)),
            Err(error) => {
                tracing::warn!(seq = s.seq, %error, "a stored weight change cannot be read; not shown");
                None
            }
        })
        .collect())
}

fn change_view(change: WeightChange) -> WeightChangeView {
    WeightChangeView {
        at: change
            .at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        reason: change.reason,
        providers: change
            .providers
            .into_iter()
            .map(|p| (p.name, p.before, p.after, p.evidence))
            .collect(),
    }
}

fn strategy_name(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::Priority => "priority",
        Strategy::WeightedRandom => "weighted-random",
        Strategy::RoundRobin => "round-robin",
        Strategy::Adaptive => "adaptive",
        _ => "other",
    }
}

/// Reads the providers page: config, chain health, balances (queried concurrently, each with a
/// timeout), and the store's activity.
pub(crate) async fn providers(state: &AppState, now: Millis) -> ReadResult<ProvidersView> {
    let health = state.chain().health();
    let balances = state.config().providers().iter().map(|p| async move {
        match tokio::time::timeout(BALANCE_TIMEOUT, p.client.balance_query().balance()).await {
            Ok(Ok(b)) => Ok((b.amount, format!("{:?}", b.unit).to_lowercase())),
            Ok(Err(e)) => Err(format!("{}: {}", e.kind().as_str(), e.message())),
            Err(_) => Err("no answer within 3 s".to_owned()),
        }
    });
    let balances = futures_util::future::join_all(balances).await;
    let rows = state
        .config()
        .providers()
        .iter()
        .zip(balances)
        .map(|(p, balance)| ProviderRow {
            name: p.name.clone(),
            vendor: p.vendor.type_name(),
            in_chain: p.in_chain,
            priority: p.priority,
            weight: p.weight,
            health: health.iter().find(|h| h.name == p.name).cloned(),
            balance,
            low_balance: p.low_balance,
            price_per_part: p.price_per_part,
        })
        .collect();
    let reports = reports(state)?;
    let last_hour = reports
        .provider_activity(now - HOUR, HOUR)
        .await
        .map_err(|e| store_error(&e))?;
    // Slots on whole half hours, the last one holding now.
    let chart_since = now - now.rem_euclid(CHART_SLOT) + CHART_SLOT - CHART_SPAN;
    let chart = reports
        .provider_activity(chart_since, CHART_SLOT)
        .await
        .map_err(|e| store_error(&e))?;
    let outbox_depth = state.store().outbox_depth().await.ok();
    let weights = weights(state).await?;
    Ok(ProvidersView {
        rows,
        last_hour,
        chart,
        chart_since,
        outbox_depth,
        weights,
    })
}

/// A page of recipients for `query`, one more than `limit` asked for so the page knows if there is
/// a next one.
pub(crate) async fn recipients(
    state: &AppState,
    query: &RecipientQuery,
    limit: u32,
) -> ReadResult<Vec<RecipientRecord>> {
    reports(state)?
        .recipients(query, limit + 1)
        .await
        .map_err(|e| store_error(&e))
}

/// One message with its receipts, `None` when unknown.
pub(crate) async fn message(
    state: &AppState,
    id: &str,
) -> ReadResult<Option<(StoredMessage, Vec<ReceiptRecord>)>> {
    let Some(message) = state.store().message(id).await.map_err(|e| store_error(&e))? else {
        return Ok(None);
    };
    let receipts = state
        .store()
        .receipts_for(&message.id)
        .await
        .map_err(|e| store_error(&e))?;
    Ok(Some((message, receipts)))
}

/// The latest bulks and the outbox depth.
pub(crate) async fn batches(state: &AppState, limit: u32) -> ReadResult<(Vec<BatchSummary>, u64)> {
    let batches = reports(state)?
        .batches(limit)
        .await
        .map_err(|e| store_error(&e))?;
    let depth = state.store().outbox_depth().await.map_err(|e| store_error(&e))?;
    Ok((batches, depth))
}

/// The estimated cost of `billed` parts per provider at each provider's configured price; `None`
/// when a provider with parts has no price.
pub(crate) fn cost(state: &AppState, billed: &[(String, u64)]) -> Option<f64> {
    let mut total = 0.0;
    for (provider, parts) in billed {
        let config = state.config().providers().iter().find(|p| p.name == *provider)?;
        total += config.estimated_cost(*parts)?;
    }
    Some(total)
}

/// The latest replies.
pub(crate) async fn replies(state: &AppState, limit: u32) -> ReadResult<Vec<InboundRecord>> {
    reports(state)?
        .latest_inbound(limit)
        .await
        .map_err(|e| store_error(&e))
}

/// The suppression list from its start, `limit` at most.
pub(crate) async fn suppressions(state: &AppState, limit: u32) -> ReadResult<Vec<Suppression>> {
    state
        .store()
        .suppressions(None, limit)
        .await
        .map_err(|e| store_error(&e))
}

/// Suppresses `number` on behalf of the dashboard user `by`; true when it was new.
pub(crate) async fn suppress(
    state: &AppState,
    number: &PhoneNumber,
    reason: &str,
    by: &str,
) -> ReadResult<bool> {
    state
        .store()
        .suppress(number, reason, &format!("dashboard:{by}"))
        .await
        .map_err(|e| store_error(&e))
}

/// Removes the suppression of `number`; true when there was one.
pub(crate) async fn unsuppress(state: &AppState, number: &PhoneNumber) -> ReadResult<bool> {
    state
        .store()
        .unsuppress(number)
        .await
        .map_err(|e| store_error(&e))
}
