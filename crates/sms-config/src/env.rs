//! Environment variables in a configuration: `{ env = "VAR" }` values, and the well-known variables
//! that override the file.
//!
//! | variable | overrides |
//! | --- | --- |
//! | `SMS_<PROVIDER>_<FIELD>` | a string field of a provider: `<PROVIDER>` is the provider's name in upper case with `-` as `_` (`ihuyi-backup` → `IHUYI_BACKUP`), `<FIELD>` the key in upper case, except `key`, which is `API_KEY`: `SMS_IHUYI_ACCOUNT`, `SMS_IHUYI_API_KEY`, `SMS_IHUYI_BASE_URL`, `SMS_JUXIANG_LOGIN`, `SMS_JUXIANG_PASSWORD`, … |
//! | `SMS_STORE_URL` | `store.url` (PostgreSQL) |
//! | `SMS_STATE_URL` | `state.url` (Redis) |
//! | `SMS_GATEWAY_LISTEN` | `gateway.listen` |
//! | `SMS_PROFILE` | the profile, when none is selected in code or on the command line |
//! | `SMS_CONFIG` | the file, when no path is given (see [`crate::locate`]) |

use crate::error::{ConfigError, ConfigErrorKind};
use crate::reader::{error_at, join};
use crate::source::{Env, Source};
use crate::tree::{Node, Origin, Table, Value};

/// Replaces every `{ env = "VAR" }` table by the variable's value.
///
/// # Errors
/// [`ConfigErrorKind::MissingEnv`] naming the variable when it is not set.
pub(crate) fn resolve_refs(
    src: &Source,
    env: &Env,
    table: &mut Table,
    path: &str,
) -> Result<(), ConfigError> {
    for entry in &mut table.entries {
        let here = join(path, &entry.key);
        resolve_node(src, env, &mut entry.node, &here)?;
    }
    Ok(())
}

fn resolve_node(src: &Source, env: &Env, node: &mut Node, path: &str) -> Result<(), ConfigError> {
    let reference = match &mut node.value {
        Value::Table(table) if table.entries.len() == 1 && table.entries[0].key == "env" => {
            match &table.entries[0].node.value {
                Value::Str(var) => var.clone(),
                other => {
                    return Err(error_at(
                        src,
                        ConfigErrorKind::WrongType,
                        &join(path, "env"),
                        &table.entries[0].node.origin,
                        format!(
                            "expected the name of an environment variable (a string), found {}",
                            other.type_name()
                        ),
                    ));
                }
            }
        }
        Value::Table(table) => return resolve_refs(src, env, table, path),
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                resolve_node(src, env, item, &format!("{path}[{i}]"))?;
            }
            return Ok(());
        }
        _ => return Ok(()),
    };
    let span = node.origin.span();
    match env.var(&reference) {
        Some(value) => {
            *node = Node {
                value: Value::Str(value),
                origin: Origin::EnvRef(reference, span),
            };
            Ok(())
        }
        None => Err(error_at(
            src,
            ConfigErrorKind::MissingEnv,
            path,
            &Origin::File(span),
            format!("environment variable {reference} is not set"),
        )),
    }
}

/// The variable that overrides field `field` of provider `provider`.
pub(crate) fn provider_var(provider: &str, field: &str) -> String {
    let field = if field == "key" {
        "API_KEY".to_owned()
    } else {
        field.to_uppercase()
    };
    format!("SMS_{}_{field}", env_segment(provider))
}

/// A provider name as it appears in variable names.
pub(crate) fn env_segment(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Sets `table.key` from `var` when that variable is set.
pub(crate) fn override_field(env: &Env, table: &mut Table, key: &str, var: &str) {
    if let Some(value) = env.var(var) {
        table.set(
            key,
            Node {
                value: Value::Str(value),
                origin: Origin::Override(var.to_owned()),
            },
        );
    }
}

/// Applies `SMS_STORE_URL`, `SMS_STATE_URL` and `SMS_GATEWAY_LISTEN`.
pub(crate) fn override_sections(env: &Env, root: &mut Table) {
    for (section, key, var) in [
        ("store", "url", "SMS_STORE_URL"),
        ("state", "url", "SMS_STATE_URL"),
        ("gateway", "listen", "SMS_GATEWAY_LISTEN"),
    ] {
        if env.var(var).is_none() {
            continue;
        }
        if root.get(section).is_none() {
            root.set(
                section,
                Node {
                    value: Value::Table(Table::default()),
                    origin: Origin::Override(var.to_owned()),
                },
            );
        }
        if let Some(Value::Table(table)) = root.get_mut(section).map(|e| &mut e.node.value) {
            override_field(env, table, key, var);
        }
    }
}
