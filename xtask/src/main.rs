//! Project automation. `cargo xtask ci` runs exactly what CI runs (`.ci/run` calls it), so a developer
//! needs one command to know whether a change will land.
//!
//! Subcommands:
//! - `ci`: every step below, in order, stopping at the first failure.
//! - `test`: only README's test command.
//! - `features`: only the facade feature matrix.
//! - `bench`: the full sandbox throughput bench and the full failover chain bench (CI runs their
//!   `--quick` forms).

use std::process::{Command, ExitCode};
use std::time::Instant;

/// README's test command. CI runs exactly this, so README and CI cannot drift apart.
const TEST_COMMAND: &[&str] = &["test", "--workspace", "--all-features"];

/// README's main command: a send through the failover chain on the built-in sandbox.
const QUICKSTART_COMMAND: &[&str] = &["run", "--quiet", "--example", "quickstart"];

/// The sandbox bench in its quick form.
const BENCH_QUICK_COMMAND: &[&str] = &[
    "bench",
    "--package",
    "sms-sandbox",
    "--bench",
    "submit_throughput",
    "--",
    "--quick",
];

/// The failover chain bench (outage speed and throughput against same-run baselines) in its quick form.
const CHAIN_BENCH_QUICK_COMMAND: &[&str] = &[
    "bench",
    "--package",
    "sms-e2e",
    "--bench",
    "failover_chain",
    "--",
    "--quick",
];

/// The facade's package name (`sms` on crates.io is another project; the library is still `sms`).
const FACADE_PACKAGE: &str = "sms-toolkit";

/// Facade features an application may enable on their own; each must build alone.
const FACADE_FEATURES: &[&str] = &[
    "ihuyi",
    "ihuyi-voice",
    "mms-10658",
    "juxiang",
    "failover",
    "sandbox",
    "redis",
    "testkit",
    "config",
    "store-sqlite",
    "store-postgres",
    "gateway",
    "otel",
    "full",
];

struct Step {
    name: String,
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
}

impl Step {
    fn cargo(name: impl Into<String>, args: &[&str]) -> Self {
        Self {
            name: name.into(),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
            env: Vec::new(),
        }
    }

    fn env(mut self, key: &'static str, value: &'static str) -> Self {
        self.env.push((key, value));
        self
    }

    fn run(&self) -> Result<(), String> {
        let started = Instant::now();
        println!("==> {}: cargo {}", self.name, self.args.join(" "));
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(&self.args)
            .envs(self.env.iter().copied())
            .status()
            .map_err(|e| format!("{}: cannot start cargo: {e}", self.name))?;
        println!("<== {} ({:.1} s)", self.name, started.elapsed().as_secs_f64());
        if status.success() {
            Ok(())
        } else {
            Err(format!("{} failed ({status})", self.name))
        }
    }
}

fn feature_steps() -> Vec<Step> {
    let mut steps = vec![Step::cargo(
        "facade without features",
        &[
            "check",
            "--quiet",
            "--package",
            FACADE_PACKAGE,
            "--no-default-features",
        ],
    )];
    for feature in FACADE_FEATURES {
        steps.push(Step::cargo(
            format!("facade with only `{feature}`"),
            &[
                "check",
                "--quiet",
                "--package",
                FACADE_PACKAGE,
                "--no-default-features",
                "--features",
                feature,
            ],
        ));
    }
    steps
}

fn ci_steps() -> Vec<Step> {
    let mut steps = vec![
        Step::cargo("format", &["fmt", "--all", "--", "--check"]),
        Step::cargo(
            "clippy",
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ],
        ),
        Step::cargo("tests (README test command)", TEST_COMMAND),
        Step::cargo("docs", &["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    ];
    steps.extend(feature_steps());
    steps.push(Step::cargo(
        "quickstart (README main command)",
        QUICKSTART_COMMAND,
    ));
    // Re-measures the sandbox against a bare axum server in the same run and prints the ratio; the
    // ratio is reported, not gated, because CI machines are shared and a threshold would flake.
    steps.push(Step::cargo("sandbox throughput (quick)", BENCH_QUICK_COMMAND));
    // Outage speed and chain throughput as ratios against baselines of the same run; reported, not
    // gated, for the same reason.
    steps.push(Step::cargo("failover chain (quick)", CHAIN_BENCH_QUICK_COMMAND));
    steps
}

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let steps = match task.as_str() {
        "ci" => ci_steps(),
        "test" => vec![Step::cargo("tests", TEST_COMMAND)],
        "features" => feature_steps(),
        "bench" => vec![
            Step::cargo(
                "sandbox throughput bench",
                &[
                    "bench",
                    "--package",
                    "sms-sandbox",
                    "--bench",
                    "submit_throughput",
                ],
            ),
            Step::cargo(
                "failover chain bench",
                &["bench", "--package", "sms-e2e", "--bench", "failover_chain"],
            ),
        ],
        _ => {
            eprintln!("usage: cargo xtask <ci|test|features|bench>");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    for step in &steps {
        if let Err(message) = step.run() {
            eprintln!("xtask {task}: {message}");
            return ExitCode::FAILURE;
        }
    }
    println!(
        "xtask {task}: all {} steps passed in {:.0} s",
        steps.len(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
