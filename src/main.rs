//! The `helpdesk-bench` command: parse the command line and hand over.

use clap::Parser;
use helpdesk_bench::{cli::Cli, commands};

fn main() -> std::process::ExitCode {
    match Cli::try_parse() {
        Ok(cli) => commands::main(cli),
        Err(e) => commands::usage_error(e),
    }
}
