//! The `helpdesk-bench` command: parse the command line and hand over.

use clap::Parser;

fn main() -> std::process::ExitCode {
    helpdesk_bench::commands::main(helpdesk_bench::cli::Cli::parse())
}
