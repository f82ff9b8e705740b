//! The command line, as clap derives it.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

/// Send SMS, voice codes and MMS through a failover chain of Chinese providers.
///
/// With no config file at all, every command runs on a sandbox started in-process (a simulator:
/// nothing leaves the machine) and says so on stderr.
#[derive(Debug, Parser)]
#[command(name = "sms", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// The config file (else $SMS_CONFIG, ./sms.toml, then the user's config dir).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// A profile of the config file (`[profiles.NAME]`).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Use a running sandbox at this address with its default accounts, instead of a config file
    /// (what `sms sandbox` prints).
    #[arg(long, global = true, env = "SMS_SANDBOX_URL", value_name = "URL")]
    pub sandbox_url: Option<String>,
    /// Machine-readable output: one JSON document, or JSON lines for streams.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send one message to one or more numbers.
    Send(SendArgs),
    /// Send to every row of a CSV file (columns: number, text or template variables, reference).
    Bulk(BulkArgs),
    /// Every provider's remaining balance, one table.
    Balance,
    /// Spending against every cap of `[spend]` (parts and money, per day and month).
    Usage,
    /// Each provider's breaker, health and adaptive weights, and the latest weight changes with
    /// their reasons (from `[store]` when configured).
    Providers,
    /// Pull handset replies from every provider that can be pulled.
    Inbound(InboundArgs),
    /// Templates registered with the provider.
    #[command(subcommand)]
    Template(TemplateCommand),
    /// Ask the provider whether a text may be sent (Juxiang `checkcontent`).
    CheckContent(CheckContentArgs),
    /// The config file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run the provider simulator and print a config that points at it.
    Sandbox(SandboxArgs),
    /// What happened to a message: status per recipient, timeline, attempts, receipts (needs
    /// `[store]`).
    Status(StatusArgs),
    /// What was sent to a number, newest first (needs `[store]`).
    History(HistoryArgs),
    /// Run the gateway: the REST API and the provider webhooks, on the message store.
    Serve(crate::commands::serve::ServeArgs),
}

/// What to do with a recipient whose outcome is unknown.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Policy {
    /// Never risk a duplicate: an unknown outcome is reported, not retried elsewhere.
    AtMostOnce,
    /// Never risk a loss: an unknown outcome may go out again through another provider.
    AtLeastOnce,
}

/// The message body options shared by `send` and `bulk`.
#[derive(Debug, Args)]
pub struct BodyArgs {
    /// Free text.
    #[arg(long, conflicts_with = "template")]
    pub text: Option<String>,
    /// A template id registered with the provider.
    #[arg(long, value_name = "ID")]
    pub template: Option<String>,
    /// The template's approved text with `{name}` placeholders (providers that send the final text
    /// need it).
    #[arg(long, value_name = "TEXT", requires = "template")]
    pub template_text: Option<String>,
    /// A template variable (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", requires = "template")]
    pub vars: Vec<String>,
    /// Scheduled send time, Beijing time (`2026-01-31 09:30:00`).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Ambiguity policy for this message (the chain's default otherwise).
    #[arg(long, value_enum)]
    pub policy: Option<Policy>,
    /// Show the requests that would go out (secrets masked) and send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `sms send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Recipients, comma-separated.
    #[arg(long, required = true, value_delimiter = ',', value_name = "NUMBER[,NUMBER…]")]
    pub to: Vec<String>,
    /// The body and options.
    #[command(flatten)]
    pub body: BodyArgs,
    /// A voice verification code (4 to 6 digits).
    #[arg(long, value_name = "CODE", conflicts_with_all = ["mms", "text", "template"])]
    pub voice_code: Option<String>,
    /// An MMS package id (with --product).
    #[arg(long, value_name = "PACKAGE", requires = "product", conflicts_with_all = ["text", "template"])]
    pub mms: Option<String>,
    /// The MMS product id.
    #[arg(long, value_name = "PID", requires = "mms")]
    pub product: Option<String>,
    /// Your reference for this message (one is generated otherwise).
    #[arg(long)]
    pub reference: Option<String>,
}

/// `sms bulk`.
#[derive(Debug, Args)]
pub struct BulkArgs {
    /// The CSV file: a header row naming `number` and `text` (or template variables) and optionally
    /// `reference`.
    pub file: PathBuf,
    /// The body and options (`--text` is the text for rows without a `text` column).
    #[command(flatten)]
    pub body: BodyArgs,
    /// Send without asking for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Where to write the results CSV (default: FILE with `.results.csv`).
    #[arg(long, value_name = "PATH", conflicts_with = "resume")]
    pub results: Option<PathBuf>,
    /// Continue an interrupted run: skip every row this results file settled (accepted, unknown or
    /// failed) and append the rest to it.
    #[arg(long, value_name = "RESULTS.csv")]
    pub resume: Option<PathBuf>,
}

/// `sms inbound`.
#[derive(Debug, Args)]
pub struct InboundArgs {
    /// Keep pulling (each provider at its own minimum interval) until Ctrl-C.
    #[arg(long)]
    pub follow: bool,
}

/// `sms status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The message: the store's id (printed by `sms send`), else its client reference (`sms send
    /// --reference`), else a provider's message id.
    #[arg(required_unless_present = "reference", conflicts_with = "reference")]
    pub id: Option<String>,
    /// The message by its client reference only (never read as a store or provider id).
    #[arg(long, value_name = "REF")]
    pub reference: Option<String>,
}

/// `sms history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The number.
    #[arg(long, value_name = "NUMBER")]
    pub to: String,
    /// Only messages recorded since then: a Beijing time (`2026-01-31 09:30:00`, `2026-01-31`) or an
    /// age (`90m`, `2h`, `7d`). Default: everything.
    #[arg(long, value_name = "TIME|AGE")]
    pub since: Option<String>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
}

/// `sms template …`.
#[derive(Debug, Subcommand)]
pub enum TemplateCommand {
    /// Register a template with ihuyi and print its id.
    Add {
        /// The template text.
        text: String,
    },
}

/// `sms check-content`.
#[derive(Debug, Args)]
pub struct CheckContentArgs {
    /// The text to check.
    pub text: String,
}

/// `sms config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Load and validate the config, and print the effective chain with secrets masked.
    Check,
}

/// `sms sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
