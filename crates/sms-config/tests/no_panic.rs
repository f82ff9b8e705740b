//! No input makes loading panic: random TOML-ish text, and random damage to the example file.

use proptest::prelude::*;
use sms_config::{Config, LoadOptions};

const EXAMPLE: &str = include_str!("../../../sms.example.toml");

fn options() -> LoadOptions {
    LoadOptions::new().env_vars([
        ("IHUYI_KEY", "k1"),
        ("IHUYI_BACKUP_KEY", "k2"),
        ("JUXIANG_PASSWORD", "p"),
        ("VOICE_KEY", "k3"),
        ("MMS_KEY", "k4"),
    ])
}

/// Pieces that make text look like a configuration, so that the random input gets past the parser.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("[providers.ihuyi]\n".to_owned()),
        Just("[providers.x]\ntype = \"juxiang\"\n".to_owned()),
        Just("[chain.retry]\n".to_owned()),
        Just("[chain.limits]\nwindows = [{ count = 1, period = \"1s\" }]\n".to_owned()),
        Just("[profiles.p.chain]\n".to_owned()),
        Just("[gateway]\n".to_owned()),
        Just("[store]\n".to_owned()),
        Just("[[gateway.api_keys]]\n".to_owned()),
        Just("{ env = \"IHUYI_KEY\" }".to_owned()),
        "[a-z_]{1,12} = ".prop_map(|k| k),
        "\"[^\"\\\\\n]{0,12}\"\n".prop_map(|v| v),
        any::<i64>().prop_map(|i| format!("{i}\n")),
        any::<f64>().prop_map(|f| format!("{f}\n")),
        Just("\"0s\"\n".to_owned()),
        Just("\"off\"\n".to_owned()),
        Just("[1, \"a\", { x = 1 }]\n".to_owned()),
        "\\PC{0,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_configuration_text_never_panics(parts in proptest::collection::vec(fragment(), 0..24), profile in proptest::option::of("[a-z]{1,3}")) {
        let text: String = parts.concat();
        let options = options().maybe_profile(profile);
        if let Err(error) = Config::from_toml_str(&text, &options) {
            // Every error is one printable description.
            prop_assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn damaged_example_files_never_panic(cuts in proptest::collection::vec((0usize..EXAMPLE.len(), "\\PC{0,4}"), 1..6)) {
        let mut text = EXAMPLE.to_owned();
        for (at, insert) in cuts {
            let at = (0..=at.min(text.len())).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            text.insert_str(at, &insert);
        }
        let _ = Config::from_toml_str(&text, &options().profile("staging"));
    }
}
