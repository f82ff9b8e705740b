//! The gateway's own secrets when the config gives none: an admin API key (kept hashed) and the
//! webhook token, in a small JSON file (next to the SQLite database by default), created on the
//! first start with owner-only permissions.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::auth::{hash_key, random_secret};

/// What the secrets file holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct SecretsFile {
    /// `sha256:…` of the generated admin key; the key itself is printed once and never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_key_hash: Option<String>,
    /// The webhook path token (kept in clear: the push URLs given to providers contain it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_token: Option<String>,
}

/// What bootstrapping produced.
#[derive(Debug)]
pub(crate) struct Bootstrapped {
    /// The admin key hash to accept, when the config has no keys.
    pub admin_key_hash: Option<String>,
    /// A key created now: to print once.
    pub new_admin_key: Option<String>,
    /// The webhook token, when the config has none.
    pub webhook_token: Option<String>,
}

/// Reads `path` (or starts empty), creates what is missing among what is `needed`, and writes the
/// file back when something was created. Without a path the secrets live for this process only.
pub(crate) fn bootstrap(
    path: Option<&Path>,
    need_admin_key: bool,
    need_token: bool,
) -> Result<Bootstrapped, String> {
    let mut file = match path {
        Some(p) if p.exists() => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            serde_json::from_str::<SecretsFile>(&text)
                .map_err(|e| format!("{} is not a gateway secrets file: {e}", p.display()))?
        }
        _ => SecretsFile::default(),
    };
    let mut changed = false;
    let mut new_admin_key = None;
    if need_admin_key && file.admin_key_hash.is_none() {
        let key = random_secret("smsgw_")?;
        file.admin_key_hash = Some(hash_key(&key));
        new_admin_key = Some(key);
        changed = true;
    }
    if need_token && file.webhook_token.is_none() {
        file.webhook_token = Some(random_secret("")?);
        changed = true;
    }
    if changed && let Some(p) = path {
        write_private(p, &file)?;
    }
    Ok(Bootstrapped {
        admin_key_hash: file.admin_key_hash.filter(|_| need_admin_key),
        new_admin_key,
        webhook_token: file.webhook_token.filter(|_| need_token),
    })
}

fn write_private(path: &Path, file: &SecretsFile) -> Result<(), String> {
    let text = serde_json::to_string_pretty(file).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut out = options
        .open(&tmp)
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    out.write_all(text.as_bytes())
        .and_then(|()| out.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_start_creates_a_key_once_and_keeps_only_its_hash() {
        let dir = std::env::temp_dir().join(format!("sms-gw-secrets-{}", random_secret("").unwrap()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gateway.secrets.json");
        let first = bootstrap(Some(&path), true, true).unwrap();
        let key = first.new_admin_key.clone().unwrap();
        assert_eq!(first.admin_key_hash.as_deref(), Some(hash_key(&key).as_str()));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&key), "the key itself is never stored");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let second = bootstrap(Some(&path), true, true).unwrap();
        assert!(second.new_admin_key.is_none(), "printed once only");
        assert_eq!(second.admin_key_hash, first.admin_key_hash);
        assert_eq!(second.webhook_token, first.webhook_token);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
