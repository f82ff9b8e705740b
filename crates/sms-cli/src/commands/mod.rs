//! One module per subcommand.

pub mod balance;
pub mod check_content;
pub mod config_check;
pub mod inbound;
pub mod providers;
pub mod sandbox;
pub mod send;
pub mod serve;
pub mod status;
pub mod template;
pub mod usage;
