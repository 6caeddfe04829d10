//! The `helpdesk-bench` command: parse the command line and hand over.

use clap::Parser;
use helpdesk_bench::{cli::Cli, commands};

fn main() -> std::process::ExitCode {
    // Guards run this binary again (`helpdesk-bench __guard`).
    helpdesk_bench::guard::mark_tool_binary();
    match Cli::try_parse() {
        Ok(cli) => commands::main(cli),
        Err(e) => commands::usage_error(e),
    }
}
