//! Test support (feature `testkit`): a [`StubSender`] for applications' own tests, the provider
//! [`conformance`] suite, and the exact-wire test server provider crates test their requests
//! against ([`wire`]).

pub mod conformance;
pub mod echo;
mod stub;
pub mod wire;

pub use stub::{StubCall, StubOutcome, StubSender};
pub use wire::{CapturedRequest, Reply, WireServer};
