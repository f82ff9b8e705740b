//! The signals that stop a long-running command (`sms sandbox`, `sms serve`): Ctrl-C and, on Unix,
//! SIGTERM (what `docker stop`, systemd and `kill` send).

/// Installed before a command announces that it is ready: a supervisor (or a test) may send SIGTERM
/// as soon as it reads that line, and without a handler the process would die on the spot.
pub(crate) struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    /// Starts listening for SIGTERM. If that cannot be set up, Ctrl-C alone stops the command.
    pub(crate) fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                term: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Self {}
        }
    }

    /// Waits for Ctrl-C or SIGTERM.
    pub(crate) async fn wait(self) {
        #[cfg(unix)]
        if let Some(mut term) = self.term {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
