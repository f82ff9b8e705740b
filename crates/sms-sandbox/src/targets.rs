//! Where pushes go: the configured `receipt_url` and `[upstream]` URLs, and per-product URLs set on a
//! running sandbox (a gateway started after the sandbox learns its webhook URLs only then).

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::config::{Product, SandboxConfig};

/// The push URLs in effect; a URL set at run time wins over the configured one.
#[derive(Debug, Default)]
pub(crate) struct PushTargets {
    set: Mutex<Set>,
}

#[derive(Debug, Default)]
struct Set {
    receipts: BTreeMap<Product, String>,
    upstream: BTreeMap<Product, String>,
}

impl PushTargets {
    fn set(&self) -> std::sync::MutexGuard<'_, Set> {
        self.set.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where `product`'s delivery receipts go, if anywhere.
    pub(crate) fn receipt_url(&self, config: &SandboxConfig, product: Product) -> Option<String> {
        self.set()
            .receipts
            .get(&product)
            .cloned()
            .or_else(|| config.receipt_url.clone())
    }

    /// Where `product`'s handset replies go, if anywhere.
    pub(crate) fn upstream_url(&self, config: &SandboxConfig, product: Product) -> Option<String> {
        self.set()
            .upstream
            .get(&product)
            .or_else(|| config.upstream.get(&product))
            .cloned()
    }

    pub(crate) fn set_receipt_url(&self, product: Product, url: String) {
        self.set().receipts.insert(product, url);
    }

    pub(crate) fn set_upstream_url(&self, product: Product, url: String) {
        self.set().upstream.insert(product, url);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_set_at_run_time_wins_for_its_product_only() {
        let mut config = SandboxConfig::default();
        config.set_receipt_url("http://127.0.0.1:1/configured");
        config.set_upstream_url(Product::Juxiang, "http://127.0.0.1:1/mo");
        let targets = PushTargets::default();
        targets.set_receipt_url(Product::IhuyiVoice, "http://127.0.0.1:1/voice".into());
        targets.set_upstream_url(Product::IhuyiSms, "http://127.0.0.1:1/reply".into());
        let url = |product, receipt: bool| {
            if receipt {
                targets.receipt_url(&config, product)
            } else {
                targets.upstream_url(&config, product)
            }
        };
        for (product, receipt, expected) in [
            (Product::IhuyiVoice, true, "http://127.0.0.1:1/voice"),
            (Product::IhuyiSms, true, "http://127.0.0.1:1/configured"),
            (Product::IhuyiSms, false, "http://127.0.0.1:1/reply"),
            (Product::Juxiang, false, "http://127.0.0.1:1/mo"),
        ] {
            assert_eq!(url(product, receipt).as_deref(), Some(expected), "{product:?}");
        }
        assert_eq!(targets.upstream_url(&config, Product::Mms), None);
    }
}
