//! Test support (feature `testkit`): a [`StubSender`] for applications' own tests and the provider
//! [`conformance`] suite.

pub mod conformance;
mod stub;

pub use stub::{StubCall, StubOutcome, StubSender};
