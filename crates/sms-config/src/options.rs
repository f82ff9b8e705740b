//! How a configuration is loaded: the profile, the environment, the directories looked in.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::source::Env;

/// Options of [`crate::Config::load_with`], [`crate::Config::discover`] and [`crate::locate`].
///
/// ```
/// use sms_config::LoadOptions;
/// let options = LoadOptions::new()
///     .profile("staging")
///     .env_vars([("SMS_IHUYI_API_KEY", "k")]); // instead of the process environment
/// assert_eq!(options.selected_profile(), Some("staging"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub(crate) profile: Option<String>,
    pub(crate) env: Env,
    pub(crate) working_dir: Option<PathBuf>,
    pub(crate) user_config_dir: Option<PathBuf>,
}

impl LoadOptions {
    /// No profile, the process environment, the current directory, the user's config directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Selects `[profiles.NAME]`, laid over the rest of the file (`--profile`).
    #[must_use]
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    /// Selects a profile if `name` is `Some`.
    #[must_use]
    pub fn maybe_profile(mut self, name: Option<impl Into<String>>) -> Self {
        self.profile = name.map(Into::into);
        self
    }

    /// Reads these variables instead of the process environment (for tests and embedding).
    #[must_use]
    pub fn env_vars<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let vars: HashMap<String, String> = vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        self.env = Env::Fixed(vars);
        self
    }

    /// Looks for `sms.toml` in `dir` instead of the current directory.
    #[must_use]
    pub fn working_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }

    /// Uses `dir` as the user's config directory (`dir/sms/config.toml`).
    #[must_use]
    pub fn user_config_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.user_config_dir = Some(dir.into());
        self
    }

    /// The profile selected in code (not `SMS_PROFILE`).
    pub fn selected_profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// The profile in effect: the selected one, else `SMS_PROFILE`.
    pub(crate) fn effective_profile(&self) -> Option<String> {
        self.profile
            .clone()
            .or_else(|| self.env.var("SMS_PROFILE").filter(|p| !p.trim().is_empty()))
    }
}
