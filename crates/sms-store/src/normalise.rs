//! Provider message ids in one canonical form, so a receipt finds its send whatever the case or
//! padding the provider used on either side.

/// The canonical form of `id` for `provider`: surrounding whitespace trimmed, ASCII lowercased, and
/// for all-digit ids (ihuyi's 20-digit `smsid`, 10658's ids) leading zeros removed. Every provider
/// goes through this one function when a send is recorded and when a receipt arrives.
/// The provider is a parameter so that a vendor whose ids are case-sensitive can get its own rule
/// here without touching a caller; none of today's providers needs one.
pub fn provider_message_id(_provider: &str, id: &str) -> String {
    let id = id.trim();
    if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        let stripped = id.trim_start_matches('0');
        return if stripped.is_empty() {
            "0".to_owned()
        } else {
            stripped.to_owned()
        };
    }
    id.to_ascii_lowercase()
}

/// The canonical form of a number as providers write it: E.164 when it parses, else trimmed as given.
pub fn number(raw: &str) -> String {
    raw.parse::<sms_core::PhoneNumber>()
        .map(|n| n.e164())
        .unwrap_or_else(|_| raw.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_equal_across_case_and_padding() {
        assert_eq!(provider_message_id("ihuyi", " 00158702 "), "158702");
        assert_eq!(provider_message_id("ihuyi", "000"), "0");
        assert_eq!(provider_message_id("mms", "AbC-01"), "abc-01");
        assert_eq!(number("13800138000"), number("+86 138 0013 8000"));
        assert_eq!(number("1380****000"), "1380****000");
    }
}
