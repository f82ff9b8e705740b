//! Every test of `sms-failover`'s failover suite (crates/sms-failover/tests/failover), run again with
//! the state of every chain on Redis: the chain must behave the same with in-memory and Redis state.
//!
//! The modules are sms-failover's own files; only `backend` differs (see `failover_suite/backend.rs`).
//! [`every_failover_module_runs_here`] fails when a module is added there and not here, and
//! [`every_chain_starts_from_the_backend`] when a test builds a chain that would keep its state in
//! memory here too.

#[path = "../../sms-failover/tests/failover/ambiguity.rs"]
mod ambiguity;
#[path = "../../sms-failover/tests/failover/batches.rs"]
mod batches;
#[path = "../../sms-failover/tests/failover/breaker.rs"]
mod breaker;
#[path = "../../sms-failover/tests/failover/decisions.rs"]
mod decisions;
#[path = "../../sms-failover/tests/failover/local.rs"]
mod local;
#[path = "../../sms-failover/tests/failover/observability.rs"]
mod observability;
#[path = "../../sms-failover/tests/failover/outage.rs"]
mod outage;
#[path = "../../sms-failover/tests/failover/properties.rs"]
mod properties;
#[path = "../../sms-failover/tests/failover/routing.rs"]
mod routing;
#[path = "../../sms-failover/tests/failover/spend.rs"]
mod spend;
#[path = "../../sms-failover/tests/failover/state.rs"]
mod state;
#[path = "../../sms-failover/tests/failover/support.rs"]
mod support;
#[path = "../../sms-failover/tests/failover/throughput.rs"]
mod throughput;

#[path = "failover_suite/backend.rs"]
mod backend;
#[path = "support/mod.rs"]
mod redis_support;

/// The `mod name;` lines of a test crate's root.
fn modules(root: &str) -> std::collections::BTreeSet<String> {
    root.lines()
        .filter_map(|line| line.trim().strip_prefix("mod ")?.strip_suffix(';'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_failover_module_runs_here() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let read = |path: &str| {
        std::fs::read_to_string(format!("{dir}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let theirs = modules(&read("../sms-failover/tests/failover/main.rs"));
    let ours = read("tests/failover_suite.rs");
    let mut included = modules(&ours);
    included.retain(|name| ours.contains(&format!("/sms-failover/tests/failover/{name}.rs\"]\nmod {name};")));
    assert!(theirs.contains("support") && theirs.len() > 5, "{theirs:?}");
    assert_eq!(
        included, theirs,
        "the Redis run of the failover suite (left) must include every module of \
         crates/sms-failover/tests/failover/main.rs (right) by path"
    );
}

#[test]
fn every_chain_starts_from_the_backend() {
    let dir = format!("{}/../sms-failover/tests/failover", env!("CARGO_MANIFEST_DIR"));
    let main = std::fs::read_to_string(format!("{dir}/main.rs")).expect("main.rs");
    for module in modules(&main) {
        if module == "support" {
            continue;
        }
        let source = std::fs::read_to_string(format!("{dir}/{module}.rs")).expect("a module");
        assert!(
            !source.contains("FailoverSender::builder()"),
            "{module}.rs builds a chain with FailoverSender::builder(): use support::builder() (or \
             chain_of), which puts the chain's state on the backend under test"
        );
    }
}
