//! Bulk sending at scale: time, peak RSS of the `sms` process, and the sandbox's own request count.
//!
//! ```text
//! cargo bench -p sms-cli --bench bulk_memory             # 1,000,000 rows (the memory claim)
//! cargo bench -p sms-cli --bench bulk_memory -- 100000   # 100,000 rows
//! ```
//!
//! It first runs 1,000 rows as the baseline, then the big file twice: with the chain's per-number
//! limits off (`[chain.limits] windows = []`), which is the CLI's own streaming and must stay flat,
//! and with the default limits (1 per second, 5 per day), whose in-process state grows with every
//! distinct number of the day. It reports each peak RSS as a ratio to the baseline and fails when
//! the run without limits peaks over 64 MiB or when the sandbox did not receive exactly one request
//! per row.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sms_sandbox::{Account, Product, Sandbox, SandboxConfig};

const LIMIT_KIB: u64 = 64 * 1024;

#[tokio::main]
async fn main() {
    let rows: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("sms-bulk-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let baseline = run(&dir, 1_000, false).await;
    let big = run(&dir, rows, false).await;
    let limited = run(&dir, rows, true).await;
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "bulk_memory: baseline {} rows: {:.2?}, peak RSS {} KiB",
        baseline.rows, baseline.elapsed, baseline.peak_kib
    );
    println!(
        "bulk_memory: {} rows: {:.2?} ({:.0} rows/s), peak RSS {} KiB ({:.1} MiB), sandbox requests {}, accepted {}",
        big.rows,
        big.elapsed,
        big.rows as f64 / big.elapsed.as_secs_f64(),
        big.peak_kib,
        big.peak_kib as f64 / 1024.0,
        big.requests,
        big.accepted
    );
    println!(
        "bulk_memory: peak RSS ratio {}x rows / baseline = {:.2} (limits off)",
        big.rows / baseline.rows,
        big.peak_kib as f64 / baseline.peak_kib as f64
    );
    println!(
        "bulk_memory: with the default per-number limits: {:.2?}, peak RSS {} KiB ({:.1} MiB), ratio {:.2}, \
         sandbox requests {}",
        limited.elapsed,
        limited.peak_kib,
        limited.peak_kib as f64 / 1024.0,
        limited.peak_kib as f64 / baseline.peak_kib as f64,
        limited.requests
    );
    assert_eq!(big.requests, big.rows, "one request per row");
    assert!(
        big.peak_kib <= LIMIT_KIB,
        "peak RSS {} KiB over the 64 MiB claim",
        big.peak_kib
    );
}

struct Figures {
    rows: u64,
    elapsed: Duration,
    peak_kib: u64,
    requests: u64,
    accepted: u64,
}

async fn run(dir: &Path, rows: u64, limits: bool) -> Figures {
    let mut config = SandboxConfig::default();
    // The sandbox's own memory is not what we measure; keep its log short.
    config.set_max_recorded_messages(1_000);
    let sandbox = Sandbox::builder()
        .config(config)
        .account(
            Product::IhuyiSms,
            Account::default_for(Product::IhuyiSms).balance(i64::MAX / 4),
        )
        .account(
            Product::Juxiang,
            Account::default_for(Product::Juxiang).balance(i64::MAX / 4),
        )
        .spawn()
        .await
        .expect("sandbox");
    let csv = write_csv(dir, rows);
    let mut config = sms::config::Config::sandbox_toml(&sandbox.base_url());
    if !limits {
        config.push_str("\n[chain.limits]\nwindows = []\n");
    }
    let config_path = dir.join("sms.toml");
    std::fs::write(&config_path, config).unwrap();
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sms"))
        .args(["bulk", "--yes", "--concurrency", "16"])
        .arg(&csv)
        .arg("--config")
        .arg(&config_path)
        .env_remove("SMS_SANDBOX_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("sms runs");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    let status = loop {
        // VmHWM is the peak so far; the last reading before exit is the run's peak (within 20 ms).
        if let Some(kib) = std::fs::read_to_string(&status_path)
            .ok()
            .as_deref()
            .and_then(vm_hwm_kib)
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let elapsed = start.elapsed();
    assert!(status.success(), "sms bulk exited with {status}");
    let requests = sandbox.request_count(Product::IhuyiSms) + sandbox.request_count(Product::Juxiang);
    let accepted = std::fs::read_to_string(csv.with_extension("results.csv"))
        .unwrap()
        .lines()
        .filter(|l| l.contains(",accepted,"))
        .count() as u64;
    Figures {
        rows,
        elapsed,
        peak_kib,
        requests,
        accepted,
    }
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn write_csv(dir: &Path, rows: u64) -> PathBuf {
    let path = dir.join(format!("rows-{rows}.csv"));
    let mut out = BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "number,text").unwrap();
    for i in 0..rows {
        // Distinct numbers, so that no per-number limit applies.
        writeln!(out, "13{:09},【示例】您的订单{i}已发货，请注意查收。", i).unwrap();
    }
    out.flush().unwrap();
    path
}
