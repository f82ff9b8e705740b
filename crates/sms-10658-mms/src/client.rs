//! The client: builds SendMms, GetNum and CreateMms form requests, posts them and hands the answers
//! to [`crate::response`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use sms_core::raw::batch::{BatchPlan, send_batches};
use sms_core::raw::http::{FormPost, HttpClient, form_encode, normalize_base_url};
use sms_core::{
    Balance, BalanceQuery, BalanceUnit, Capabilities, Error, ErrorKind, Message, MessageBody, MessageKind,
    MessageSender, MmsContent, Operation, PhoneNumber, Receipt, RecipientOutcome, Secret,
};

use crate::config::MmsConfig;
use crate::package::MmsPackage;
use crate::response;

const FORM: &str = "application/x-www-form-urlencoded";

/// A 10658.cc MMS (彩信) client: sends stored packages to many numbers, queries the balance and
/// stores new packages.
///
/// Cloning is cheap; clones share one HTTP connection pool.
#[derive(Clone)]
pub struct MmsClient {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    account: String,
    key: Secret,
    endpoint: String,
    batch_size: usize,
    capabilities: Capabilities,
    http: HttpClient,
}

impl fmt::Debug for MmsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MmsClient")
            .field("name", &self.inner.name)
            .field("account", &self.inner.account)
            .field("endpoint", &self.inner.endpoint)
            .field("batch_size", &self.inner.batch_size)
            .finish_non_exhaustive()
    }
}

/// Checks the base URL and gives the API endpoint under it.
fn endpoint(base: &str) -> Result<String, String> {
    normalize_base_url(base).map(|base| format!("{base}/webservice/api"))
}

impl MmsClient {
    /// Builds a client.
    ///
    /// # Errors
    /// [`ErrorKind::Configuration`] for an empty account, key or name, a batch size of 0, a base URL
    /// that is not an `http`/`https` URL without query or credentials, or unusable HTTP settings.
    pub fn new(config: MmsConfig) -> Result<Self, Error> {
        let name = config.name.trim().to_owned();
        let invalid = |message: String| {
            let provider = if name.is_empty() {
                crate::config::DEFAULT_NAME
            } else {
                &name
            };
            Error::new(ErrorKind::Configuration, Operation::Configure)
                .with_provider(provider)
                .with_message(message)
        };
        if name.is_empty() {
            return Err(invalid("the provider name is empty".to_owned()));
        }
        if config.account.trim().is_empty() {
            return Err(invalid("the account is empty".to_owned()));
        }
        if config.key.is_empty() {
            return Err(invalid("the key is empty".to_owned()));
        }
        if config.batch_size == 0 {
            return Err(invalid("the batch size must be at least 1".to_owned()));
        }
        let endpoint = endpoint(&config.base_url).map_err(invalid)?;
        let http = HttpClient::new(&name, &config.http)?;
        let capabilities = Capabilities::new(&[MessageKind::Mms])
            .with_max_batch(config.batch_size)
            .with_scheduling();
        Ok(Self {
            inner: Arc::new(Inner {
                name,
                account: config.account,
                key: config.key,
                endpoint,
                batch_size: config.batch_size,
                capabilities,
                http,
            }),
        })
    }

    fn name_str(&self) -> &str {
        &self.inner.name
    }

    /// Posts `params` (after `account` and `password`) to `method` and reads the answer with
    /// `read`. Any error, `read`'s included, is scrubbed of the key and of any echo of the request
    /// (see [`FormPost`]).
    async fn call<T>(
        &self,
        method: &str,
        operation: Operation,
        params: &[(&str, &str)],
        read: impl FnOnce(&str, &[u8]) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("account", &self.inner.account),
            ("password", self.inner.key.expose()),
        ];
        pairs.extend_from_slice(params);
        let url = format!("{}?method={method}", self.inner.endpoint);
        tracing::debug!(provider = %self.inner.name, %url, "request");
        let post = FormPost::new(&self.inner.name, operation, &url, form_encode(&pairs))
            .content_type(FORM)
            .sensitive(self.inner.key.expose().as_bytes());
        self.inner
            .http
            .post_form(&post, |body| read(self.name_str(), body))
            .await
    }

    /// Sends one batch (at most the batch size) and reports each number.
    async fn send_batch(
        &self,
        batch: &[PhoneNumber],
        content: &MmsContent,
        time: Option<&str>,
    ) -> Result<Vec<RecipientOutcome>, Error> {
        let mobile = batch
            .iter()
            .map(PhoneNumber::national_number)
            .collect::<Vec<_>>()
            .join(",");
        let mut params = vec![
            ("mobile", mobile.as_str()),
            ("mmsid", content.package_id.trim()),
            ("pid", content.product_id.trim()),
        ];
        if let Some(time) = time {
            params.push(("time", time));
        }
        let id = self
            .call("SendMms", Operation::Send, &params, response::send)
            .await?;
        Ok(batch
            .iter()
            .map(|n| RecipientOutcome::accepted(n.clone(), self.name_str(), Some(id.clone())))
            .collect())
    }

    /// Stores a package (CreateMms) and returns its new package id, to send with
    /// [`MmsContent::new`].
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] for an empty title, before any request; then the provider's
    /// failure (for example [`ErrorKind::InvalidContent`] when it finds the SMIL malformed), or
    /// [`ErrorKind::Protocol`] for an answer without a package id.
    pub async fn create_mms(&self, title: &str, package: &MmsPackage) -> Result<String, Error> {
        let title = title.trim();
        if title.is_empty() {
            return Err(Error::new(ErrorKind::InvalidRequest, Operation::CreateMms)
                .with_provider(self.name_str())
                .with_message("the MMS title is empty"));
        }
        let zipfile = package.to_base64();
        let id = self
            .call(
                "CreateMms",
                Operation::CreateMms,
                &[("title", title), ("zipfile", &zipfile)],
                response::create,
            )
            .await?;
        tracing::info!(provider = %self.inner.name, package = %id, "MMS package stored");
        Ok(id)
    }
}

#[async_trait]
impl MessageSender for MmsClient {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn capabilities(&self) -> &Capabilities {
        &self.inner.capabilities
    }

    /// Sends a stored package to every recipient, comma-joined, in requests of at most the batch size,
    /// merged into one receipt in recipient order; every number of an accepted request gets the
    /// request's `mmsid` as message id. A batch whose request fails marks its numbers failed with
    /// that error; later batches are still sent unless the error concerns the account or the package,
    /// in which case they are marked failed with the same kind and not requested.
    async fn send(&self, message: &Message) -> Result<Receipt, Error> {
        let name = self.name_str();
        message.validate().map_err(|e| e.with_provider(name))?;
        self.inner.capabilities.check(name, message)?;
        let MessageBody::Mms(content) = message.body() else {
            return Err(Error::new(ErrorKind::Unsupported, Operation::Send)
                .with_provider(name)
                .with_message(format!("{name} does not send {} messages", message.kind())));
        };
        let time = message.schedule().map(|t| t.format_dashed());
        let time = time.as_deref();
        let plan = BatchPlan::sequential(self.inner.batch_size);
        send_batches(name, message, plan, |batch: Message| async move {
            self.send_batch(batch.recipients(), content, time).await
        })
        .await
    }
}

#[async_trait]
impl BalanceQuery for MmsClient {
    /// The remaining MMS count from GetNum.
    async fn balance(&self) -> Result<Balance, Error> {
        let amount = self
            .call("GetNum", Operation::Balance, &[], response::balance)
            .await?;
        Ok(Balance {
            provider: self.inner.name.clone(),
            amount,
            unit: BalanceUnit::Messages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_under_the_base_url() {
        assert_eq!(
            endpoint("http://10658.cc").unwrap(),
            "http://10658.cc/webservice/api"
        );
        assert_eq!(
            endpoint(" http://127.0.0.1:8080/ ").unwrap(),
            "http://127.0.0.1:8080/webservice/api"
        );
        assert_eq!(
            endpoint("https://example.invalid/prefix/").unwrap(),
            "https://example.invalid/prefix/webservice/api"
        );
        for bad in [
            "",
            "10658.cc",
            "ftp://10658.cc",
            "http://10658.cc/?a=1",
            "http://u:p@10658.cc",
        ] {
            assert!(endpoint(bad).is_err(), "{bad}");
        }
    }
}
