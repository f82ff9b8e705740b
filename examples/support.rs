//! Shared helpers for the examples: pick real providers when credentials are in the environment, and
//! the built-in sandbox otherwise, so every example runs on a fresh machine with no setup.
//!
//! Real credentials (all of a provider's variables must be set to use it for real):
//!
//! | variable | meaning |
//! | --- | --- |
//! | `SMS_IHUYI_ACCOUNT`, `SMS_IHUYI_API_KEY` | ihuyi APIID and APIKEY |
//! | `SMS_IHUYI_BASE_URL` | optional, default `https://106.ihuyi.com` |
//! | `SMS_JUXIANG_NAME`, `SMS_JUXIANG_PASSWORD` | Juxiang enterprise login and password |
//! | `SMS_JUXIANG_BASE_URL` | optional, default `http://203.81.21.34/send/` |
//! | `SMS_TO` | the recipient(s) for real sends, comma-separated (required with real credentials) |

use std::env;

use sms::PhoneNumber;
use sms::ihuyi::{IhuyiClient, IhuyiConfig};
use sms::juxiang::{JuxiangClient, JuxiangConfig};
use sms::sandbox::Sandbox;

/// A boxed error for example `main` functions.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The two providers of the quickstart chain, and the sandbox when they run on it.
pub struct Backend {
    /// ihuyi SMS, the primary.
    pub ihuyi: IhuyiClient,
    /// Juxiang, the secondary.
    pub juxiang: JuxiangClient,
    /// The in-process sandbox, when no real credentials were configured.
    pub sandbox: Option<Sandbox>,
    /// Recipients to send to: `SMS_TO` for real providers, made-up numbers on the sandbox.
    pub recipients: Vec<PhoneNumber>,
}

impl Backend {
    /// Real providers when both have credentials in the environment, the sandbox otherwise.
    ///
    /// # Errors
    /// When the sandbox cannot start, a client cannot be built, or real credentials are set without
    /// `SMS_TO`.
    pub async fn from_env_or_sandbox() -> Result<Self, BoxError> {
        let ihuyi_real = var("SMS_IHUYI_ACCOUNT").zip(var("SMS_IHUYI_API_KEY"));
        let juxiang_real = var("SMS_JUXIANG_NAME").zip(var("SMS_JUXIANG_PASSWORD"));
        if let (Some((account, key)), Some((name, password))) = (ihuyi_real, juxiang_real) {
            let recipients = var("SMS_TO")
                .ok_or("real credentials are configured: set SMS_TO to the number(s) to send to")?
                .split(',')
                .map(str::parse)
                .collect::<Result<Vec<PhoneNumber>, _>>()?;
            let mut ihuyi = IhuyiConfig::new(account, key);
            if let Some(url) = var("SMS_IHUYI_BASE_URL") {
                ihuyi = ihuyi.base_url(url);
            }
            let mut juxiang = JuxiangConfig::new(name, password);
            if let Some(url) = var("SMS_JUXIANG_BASE_URL") {
                juxiang = juxiang.base_url(url);
            }
            return Ok(Self {
                ihuyi: IhuyiClient::new(ihuyi)?,
                juxiang: JuxiangClient::new(juxiang)?,
                sandbox: None,
                recipients,
            });
        }
        let sandbox = Sandbox::builder().spawn().await?;
        let base = sandbox.base_url();
        let ihuyi = IhuyiClient::new(
            IhuyiConfig::new(sms::sandbox::DEFAULT_ACCOUNT, sms::sandbox::DEFAULT_KEY)
                .base_url(base.clone())
                .international_base_url(base.clone()),
        )?;
        let juxiang = JuxiangClient::new(
            JuxiangConfig::new(
                sms::sandbox::DEFAULT_ACCOUNT,
                sms::sandbox::DEFAULT_JUXIANG_PASSWORD,
            )
            .base_url(format!("{base}/send/")),
        )?;
        let recipients = ["13800138000", "13900139000", "15000150000"]
            .into_iter()
            .map(str::parse)
            .collect::<Result<Vec<PhoneNumber>, _>>()?;
        Ok(Self {
            ihuyi,
            juxiang,
            sandbox: Some(sandbox),
            recipients,
        })
    }
}

/// A non-empty environment variable.
fn var(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}
