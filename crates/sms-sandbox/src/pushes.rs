//! Outgoing pushes: ihuyi delivery receipts and handset replies, POSTed as forms with bounded
//! retries through one shared HTTP client.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::config::Product;
use crate::params::{Charset, percent_encode};
use crate::records::{PushKind, RecordedPush};
use crate::state::Shared;

/// Pause before the first retry; it doubles for each further retry, up to one second.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(100);

/// One push to make.
#[derive(Debug)]
pub(crate) struct PushJob {
    pub(crate) kind: PushKind,
    pub(crate) product: Product,
    pub(crate) url: String,
    pub(crate) fields: Vec<(String, String)>,
    pub(crate) charset: Charset,
    pub(crate) delay: Duration,
    /// Juxiang receivers must answer a body of exactly `0`.
    pub(crate) expect_zero: bool,
    /// Add `report_time` (now, Beijing time) when the push is made.
    pub(crate) stamp_report_time: bool,
    /// The state generation the job belongs to; a reset in between cancels it.
    pub(crate) generation: u64,
}

/// Builds the HTTP client for pushes: no proxy (everything stays on the configured URLs), short
/// timeouts.
pub(crate) fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .build()
}

/// Runs `job` in the background; it stops when the sandbox shuts down.
pub(crate) fn spawn(shared: &Arc<Shared>, job: PushJob) {
    let shared = Arc::clone(shared);
    let mut shutdown = shared.shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = run(&shared, job) => {}
        }
    });
}

async fn run(shared: &Shared, mut job: PushJob) {
    if !job.delay.is_zero() {
        tokio::time::sleep(job.delay).await;
    }
    if job.stamp_report_time {
        job.fields.push((
            "report_time".to_owned(),
            crate::clock::format_dashed(SystemTime::now()),
        ));
    }
    let (body, content_type) = encode_form(&job.fields, job.charset);
    let mut attempts = 0;
    let mut succeeded = false;
    let mut retry_delay = FIRST_RETRY_DELAY;
    while attempts <= shared.config.push_retries {
        if attempts > 0 {
            tokio::time::sleep(retry_delay).await;
            retry_delay = (retry_delay * 2).min(Duration::from_secs(1));
        }
        if shared.state().generation != job.generation {
            return;
        }
        attempts += 1;
        match attempt(shared, &job, &body, content_type).await {
            Ok(()) => {
                succeeded = true;
                break;
            }
            Err(why) => {
                tracing::debug!(url = %job.url, attempt = attempts, "push failed: {why}");
            }
        }
    }
    if shared.state().generation != job.generation {
        return;
    }
    shared.record_push(RecordedPush {
        kind: job.kind,
        product: job.product,
        url: job.url,
        fields: job.fields,
        attempts,
        succeeded,
    });
}

async fn attempt(
    shared: &Shared,
    job: &PushJob,
    body: &str,
    content_type: &'static str,
) -> Result<(), String> {
    let response = shared
        .http
        .post(&job.url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    if job.expect_zero {
        let text = response.bytes().await.map_err(|e| e.to_string())?;
        if text.trim_ascii() != b"0" {
            return Err(format!(
                "answered {:?} instead of `0`",
                String::from_utf8_lossy(&text)
            ));
        }
    }
    Ok(())
}

/// A form body in the product's charset.
fn encode_form(fields: &[(String, String)], charset: Charset) -> (String, &'static str) {
    let mut body = String::new();
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            body.push('&');
        }
        match charset {
            Charset::Utf8 => {
                body.push_str(&percent_encode(k.as_bytes()));
                body.push('=');
                body.push_str(&percent_encode(v.as_bytes()));
            }
            Charset::Gbk => {
                body.push_str(&percent_encode(&encoding_rs::GBK.encode(k).0));
                body.push('=');
                body.push_str(&percent_encode(&encoding_rs::GBK.encode(v).0));
            }
        }
    }
    let content_type = match charset {
        Charset::Utf8 => "application/x-www-form-urlencoded; charset=utf-8",
        Charset::Gbk => "application/x-www-form-urlencoded; charset=gbk",
    };
    (body, content_type)
}
