//! Runs the real `sms` binary against a sandbox started in the test process.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use sms_sandbox::{Product, Sandbox};

/// A sandbox and a scratch directory for one test.
pub struct Env {
    pub sandbox: Sandbox,
    pub dir: PathBuf,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Env {
    pub async fn new() -> Self {
        Self::with(Sandbox::builder()).await
    }

    pub async fn with(builder: sms_sandbox::SandboxBuilder) -> Self {
        let sandbox = builder.spawn().await.expect("sandbox starts");
        let dir = std::env::temp_dir().join(format!(
            "sms-cli-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self { sandbox, dir }
    }

    /// `sms ARGS` pointed at this sandbox, run in the scratch directory with no config around.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sms"));
        command
            .args(args)
            .current_dir(&self.dir)
            .env("SMS_SANDBOX_URL", self.sandbox.base_url())
            .env_remove("SMS_CONFIG")
            .env("HOME", &self.dir)
            .env("XDG_CONFIG_HOME", self.dir.join("xdg"))
            .stdin(Stdio::null());
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run(self.command(args).output().expect("sms runs"))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Every request the sandbox received, all products.
    pub fn requests(&self) -> u64 {
        Product::ALL.iter().map(|p| self.sandbox.request_count(*p)).sum()
    }

    /// Accepted recipients in the sandbox's log (wire form, e.g. `13800138000`).
    pub fn recorded_numbers(&self) -> Vec<String> {
        self.sandbox
            .messages()
            .into_iter()
            .flat_map(|m| m.recipients)
            .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A finished run.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().expect("exited")
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// Asserts the exit code, showing the output when it differs.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }
}

/// A CSV with `count` rows of distinct numbers starting at 13800000000 + `first`.
pub fn numbers_csv(first: u32, count: u32) -> String {
    let mut csv = String::from("number,text\n");
    for i in first..first + count {
        csv.push_str(&format!("1380{i:07},【示例】第{i}条通知\n"));
    }
    csv
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

pub mod serve;
