//! The config file that points every provider at a sandbox.

use sms::sandbox::{DEFAULT_ACCOUNT, DEFAULT_JUXIANG_PASSWORD, DEFAULT_KEY};

/// A ready config for a sandbox at `base`.
pub fn toml_for(base: &str) -> String {
    format!(
        "# Every provider of the chain on the sandbox at {base} (its default accounts).\n\
         [[providers]]\nname = \"ihuyi\"\nkind = \"ihuyi\"\naccount = \"{DEFAULT_ACCOUNT}\"\napi_key = \"{DEFAULT_KEY}\"\n\
         base_url = \"{base}\"\ninternational_base_url = \"{base}\"\npriority = 0\n\n\
         [[providers]]\nname = \"juxiang\"\nkind = \"juxiang\"\nlogin = \"{DEFAULT_ACCOUNT}\"\npassword = \"{DEFAULT_JUXIANG_PASSWORD}\"\n\
         base_url = \"{base}/send/\"\npriority = 1\n"
    )
}
