#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backend;
mod bulk;
pub mod cli;
mod commands;
mod compose;
pub mod exit;
mod report;
mod setup;
mod stop;
mod wire;

use std::process::ExitCode;

use clap::Parser;

pub use cli::Cli;
pub use exit::{EXIT_CODES_HELP, Exit, Failure};

/// Parses the command line, runs the command and returns its exit code (see [`Exit`]).
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            // Help and version are not errors; everything else clap reports is a usage error.
            return ExitCode::from(if error.use_stderr() {
                Exit::Usage.code()
            } else {
                Exit::Ok.code()
            });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sms: cannot start the runtime: {error}");
            return ExitCode::from(Exit::Error.code());
        }
    };
    let json = cli.json;
    match runtime.block_on(run(cli)) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(failure) => {
            if json {
                eprintln!(
                    "{}",
                    serde_json::json!({"error": failure.message, "exit_code": failure.exit.code()})
                );
            } else {
                eprintln!("sms: {failure}");
            }
            ExitCode::from(failure.exit.code())
        }
    }
}

/// Runs one parsed command.
///
/// # Errors
/// A [`Failure`] with its exit code and message.
pub async fn run(cli: Cli) -> exit::Outcome {
    use cli::{Command, ConfigCommand, TemplateCommand};
    if let Command::Sandbox(args) = &cli.command {
        return commands::sandbox::run(args).await;
    }
    // Commands that record or read messages (or spend caps) open `[store]` and `[state]`; a dry run
    // writes nothing.
    let with_store = match &cli.command {
        Command::Send(args) => !args.body.dry_run,
        Command::Bulk(args) => !args.body.dry_run,
        Command::Status(_) | Command::History(_) | Command::Usage | Command::Providers => true,
        _ => false,
    };
    let backend = setup::backend(&cli, with_store).await?;
    let json = cli.json;
    match &cli.command {
        Command::Send(args) => commands::send::run(&backend, args, json).await,
        Command::Bulk(args) => bulk::run(&backend, args, json).await,
        Command::Balance => commands::balance::run(&backend, json).await,
        Command::Usage => commands::usage::run(&backend, json).await,
        Command::Providers => commands::providers::run(&backend, json).await,
        Command::Inbound(args) => commands::inbound::run(&backend, args.follow, json).await,
        Command::Template(TemplateCommand::Add { text }) => {
            commands::template::add(&backend, text, json).await
        }
        Command::CheckContent(args) => commands::check_content::run(&backend, &args.text, json).await,
        Command::Config(ConfigCommand::Check) => commands::config_check::run(&backend, json),
        Command::Status(args) => commands::status::status(&backend, args, json).await,
        Command::History(args) => commands::status::history(&backend, args, json).await,
        Command::Serve(args) => commands::serve::run(backend, args, json).await,
        Command::Sandbox(_) => unreachable!("handled above"),
    }
}
