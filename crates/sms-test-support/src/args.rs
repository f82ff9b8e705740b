//! Options of bench binaries (`cargo bench … -- --rounds 5 --latency 20`).

use std::str::FromStr;

/// The value after `name` on this process's command line, parsed, when `name` is given.
///
/// # Panics
/// When the value is missing or does not parse: a bench run with a mistyped option says so
/// instead of measuring something else.
pub fn arg<T: FromStr>(name: &str) -> Option<T> {
    arg_in(std::env::args(), name)
}

fn arg_in<T: FromStr>(args: impl IntoIterator<Item = String>, name: &str) -> Option<T> {
    let mut args = args.into_iter().skip_while(|a| a != name);
    args.next()?;
    let value = args.next().unwrap_or_else(|| panic!("{name} takes a value"));
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name} takes a value, not {value:?}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn the_value_after_the_name_is_parsed() {
        assert_eq!(
            arg_in::<u64>(args("bench --sends --latency 20"), "--latency"),
            Some(20)
        );
        assert_eq!(arg_in::<u64>(args("bench --sends"), "--latency"), None);
    }

    #[test]
    #[should_panic(expected = "--rounds takes a value, not \"five\"")]
    fn a_value_that_does_not_parse_is_refused() {
        arg_in::<usize>(args("bench --rounds five"), "--rounds");
    }
}
