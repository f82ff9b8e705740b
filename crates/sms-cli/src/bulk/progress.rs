//! The progress bar: on a terminal only, never with `--json`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Totals;

/// A progress bar on stderr, or nothing.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar for `total` rows when stderr is a terminal and the output is for humans.
    pub fn new(total: u64, json: bool) -> Self {
        if json || !std::io::stderr().is_terminal() {
            return Self { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} rows, {per_sec}, ETA {eta} | {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(250));
        Self { bar: Some(bar) }
    }

    /// Shows the counts after a row.
    pub fn advance(&self, totals: &Totals) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!(
                "accepted {} failed {} unknown {}",
                totals.accepted, totals.failed, totals.unknown
            ));
        }
    }

    /// The bar, to print lines above it.
    pub fn bar(&self) -> Option<&ProgressBar> {
        self.bar.as_ref()
    }

    /// Leaves the final state on screen.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
