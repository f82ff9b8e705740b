//! The frame every dashboard page shares (head, navigation, logout), and small formatters: masked
//! numbers, UTC times, percentages.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::session::{BASE, Session};

/// The pages in the navigation: (path under [`BASE`], label).
const NAV: [(&str, &str); 5] = [
    ("/providers", "Providers"),
    ("/messages", "Messages"),
    ("/batches", "Bulk runs"),
    ("/replies", "Replies"),
    ("/suppressions", "Suppressions"),
];

const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
header{background:#1d2733;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#cfe1ff;text-decoration:none}header a.on{color:#fff;font-weight:600;text-decoration:underline}
header form{margin-left:auto}main{padding:1rem 1.2rem;max-width:78rem}
table{border-collapse:collapse;background:#fff;margin:.6rem 0;width:100%}
th,td{border:1px solid #d5dae1;padding:.3rem .5rem;text-align:left;font-size:.9rem;vertical-align:top}
th{background:#eef1f5}.num{font-variant-numeric:tabular-nums;text-align:right}
.note{color:#5b6776;font-size:.85rem}.bad{color:#b3261e;font-weight:600}.good{color:#1e7b34}
.slot{color:#8a94a3;font-style:italic}form.inline{display:inline}
fieldset{border:1px solid #d5dae1;background:#fff;margin:.6rem 0}label{margin-right:.8rem}
.error{background:#fde8e7;border:1px solid #b3261e;padding:.5rem}
";

/// A whole page: `title`, the navigation with `active` marked, and `body`. `refresh` adds a
/// `<meta http-equiv=refresh>` (no JavaScript needed).
pub(crate) fn page(
    title: &str,
    session: &Session,
    active: &str,
    refresh: Option<u32>,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(seconds) = refresh {
                    meta http-equiv="refresh" content=(seconds);
                }
                title { (title) " · SMS gateway" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "SMS gateway" }
                    @for (path, label) in NAV {
                        a href={ (BASE) (path) } class=[(path == active).then_some("on")] { (label) }
                    }
                    form method="post" action={ (BASE) "/logout" } {
                        (csrf_field(session))
                        span class="note" {
                            (session.key_name)
                            @if session.admin { " (admin)" } @else { " (read only)" }
                        }
                        " "
                        button type="submit" { "Log out" }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page outside a session (login, errors).
pub(crate) fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · SMS gateway" }
                style { (PreEscaped(STYLE)) }
            }
            body { main { h1 { (title) } (body) } }
        }
    }
}

/// The hidden CSRF field every form of a session carries.
pub(crate) fn csrf_field(session: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(session.csrf); }
}

/// A number with its middle hidden: the national part keeps its first 3 and last 4 digits
/// (`+8613800138000` → `138****8000`); shorter numbers keep their last 2. Anything else (a sender
/// name) keeps its first and last character.
pub(crate) fn mask(number: &str) -> String {
    let national = number
        .strip_prefix("+86")
        .or_else(|| number.strip_prefix('+'))
        .unwrap_or(number);
    let chars: Vec<char> = national.chars().collect();
    let n = chars.len();
    let (head, tail) = if n >= 9 {
        (3, 4)
    } else if n >= 4 {
        (0, 2)
    } else {
        (0, 0)
    };
    let shown = |range: std::ops::Range<usize>| chars[range].iter().collect::<String>();
    let mut out = shown(0..head);
    out.push_str(&"*".repeat(n - head - tail));
    out.push_str(&shown(n - tail..n));
    if !number.starts_with("+86") && number.starts_with('+') {
        // A foreign number: say so, still masked.
        return format!("+{out}");
    }
    out
}

/// A number as the viewer may see it: in full when `reveal`, masked otherwise.
pub(crate) fn number(number: &str, reveal: bool) -> String {
    if reveal { number.to_owned() } else { mask(number) }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` UTC.
pub(crate) fn time(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `part / whole` as a percentage with one decimal, or `–` when `whole` is 0.
pub(crate) fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".to_owned()
    } else {
        #[allow(clippy::cast_precision_loss)]
        let p = part as f64 * 100.0 / whole as f64;
        format!("{p:.1}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_masked_in_the_middle() {
        assert_eq!(mask("+8613800138000"), "138****8000");
        assert_eq!(mask("13800138000"), "138****8000");
        assert_eq!(mask("+14155550100"), "+141****0100");
        assert_eq!(mask("10690"), "***90");
        assert_eq!(mask("abc"), "***");
        assert_eq!(number("+8613800138000", true), "+8613800138000");
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(1_709_251_199_000), "2024-02-29 23:59:59");
        assert_eq!(time(1_800_000_000_123), "2027-01-15 08:00:00");
    }

    #[test]
    fn percentages_say_when_there_is_nothing() {
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(0, 0), "–");
    }
}
