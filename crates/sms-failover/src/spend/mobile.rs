//! Which international numbers are mobile numbers: a compact embedded table of mobile prefixes and
//! national lengths, from the ITU national numbering plans as libphonenumber's metadata records them.
//!
//! The `phonenumber` crate carries the full metadata but pulls in `regex`, `nom`, `bincode`,
//! `quick-xml` and a megabyte-scale database for every build; a chain only needs "is this a mobile
//! number of that country" for the few countries an operator allows. The table covers the countries
//! Chinese senders most often reach; a country outside it is refused (its plan is unknown), so
//! allowing it is an explicit code change here, never a silent pass.

/// One country's mobile numbers: national numbers of `lengths` digits starting with one of
/// `prefixes`.
struct Plan {
    country_code: u16,
    name: &'static str,
    prefixes: &'static [&'static str],
    lengths: &'static [usize],
}

const PLANS: &[Plan] = &[
    // North America shares one plan; mobile and fixed numbers are not told apart by their digits.
    Plan {
        country_code: 1,
        name: "US/Canada",
        prefixes: &["2", "3", "4", "5", "6", "7", "8", "9"],
        lengths: &[10],
    },
    Plan {
        country_code: 7,
        name: "Russia",
        prefixes: &["9"],
        lengths: &[10],
    },
    Plan {
        country_code: 33,
        name: "France",
        prefixes: &["6", "7"],
        lengths: &[9],
    },
    Plan {
        country_code: 44,
        name: "United Kingdom",
        prefixes: &["71", "72", "73", "74", "75", "7624", "77", "78", "79"],
        lengths: &[10],
    },
    Plan {
        country_code: 49,
        name: "Germany",
        prefixes: &["15", "16", "17"],
        lengths: &[10, 11],
    },
    Plan {
        country_code: 60,
        name: "Malaysia",
        prefixes: &["1"],
        lengths: &[9, 10],
    },
    Plan {
        country_code: 61,
        name: "Australia",
        prefixes: &["4"],
        lengths: &[9],
    },
    Plan {
        country_code: 62,
        name: "Indonesia",
        prefixes: &["8"],
        lengths: &[9, 10, 11, 12],
    },
    Plan {
        country_code: 63,
        name: "Philippines",
        prefixes: &["9"],
        lengths: &[10],
    },
    Plan {
        country_code: 65,
        name: "Singapore",
        prefixes: &["8", "9"],
        lengths: &[8],
    },
    Plan {
        country_code: 66,
        name: "Thailand",
        prefixes: &["6", "8", "9"],
        lengths: &[9],
    },
    Plan {
        country_code: 81,
        name: "Japan",
        prefixes: &["70", "80", "90"],
        lengths: &[10],
    },
    Plan {
        country_code: 82,
        name: "South Korea",
        prefixes: &["10"],
        lengths: &[9, 10],
    },
    Plan {
        country_code: 84,
        name: "Vietnam",
        prefixes: &["3", "5", "7", "8", "9"],
        lengths: &[9],
    },
    Plan {
        country_code: 91,
        name: "India",
        prefixes: &["6", "7", "8", "9"],
        lengths: &[10],
    },
    Plan {
        country_code: 852,
        name: "Hong Kong",
        prefixes: &["4", "5", "6", "7", "9"],
        lengths: &[8],
    },
    Plan {
        country_code: 853,
        name: "Macau",
        prefixes: &["6"],
        lengths: &[8],
    },
    Plan {
        country_code: 886,
        name: "Taiwan",
        prefixes: &["9"],
        lengths: &[9],
    },
];

/// Why an international number is not taken as a mobile number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotMobile {
    /// The table has no plan for the country.
    UnknownPlan,
    /// The country's mobile numbers look different (`expected` says how).
    Mismatch { country: &'static str, expected: String },
}

/// Checks that `national` is a mobile number of `country_code`.
pub(crate) fn check(country_code: u16, national: &str) -> Result<(), NotMobile> {
    let plan = PLANS
        .iter()
        .find(|plan| plan.country_code == country_code)
        .ok_or(NotMobile::UnknownPlan)?;
    let fits = plan.lengths.contains(&national.len())
        && national.bytes().all(|b| b.is_ascii_digit())
        && plan.prefixes.iter().any(|prefix| national.starts_with(prefix));
    if fits {
        return Ok(());
    }
    let lengths: Vec<String> = plan.lengths.iter().map(usize::to_string).collect();
    Err(NotMobile::Mismatch {
        country: plan.name,
        expected: format!(
            "{} digits starting with {}",
            lengths.join(" or "),
            plan.prefixes.join(", ")
        ),
    })
}

/// True when the table knows the country's mobile numbers (config checks allowlists with it).
pub fn has_mobile_plan(country_code: u16) -> bool {
    PLANS.iter().any(|plan| plan.country_code == country_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles_pass_and_fixed_lines_fail() {
        assert_eq!(check(44, "7700900123"), Ok(()));
        assert!(matches!(
            check(44, "2079460123"),
            Err(NotMobile::Mismatch {
                country: "United Kingdom",
                ..
            })
        ));
        assert!(
            matches!(check(44, "770090012"), Err(NotMobile::Mismatch { .. })),
            "too short"
        );
        assert_eq!(check(852, "51234567"), Ok(()));
        assert!(check(852, "21234567").is_err(), "a Hong Kong fixed line");
        assert_eq!(check(81, "9012345678"), Ok(()));
        assert_eq!(
            check(882, "1234567"),
            Err(NotMobile::UnknownPlan),
            "international networks"
        );
        assert!(has_mobile_plan(65) && !has_mobile_plan(882));
    }
}
