//! `sms`: the command-line tool. Everything lives in the library; see `sms --help`.

fn main() -> std::process::ExitCode {
    sms_cli::main()
}
