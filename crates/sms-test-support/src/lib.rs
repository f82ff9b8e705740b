#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod args;
mod cpu;
mod postgres;
mod redis_server;

pub use args::arg;
pub use cpu::{process_cpu, threads_cpu};
pub use postgres::{HOW_TO_START_POSTGRES, PG_ADMIN_URL, TestDatabase};
pub use redis_server::OwnRedis;
