//! `helpdesk-bench server`: a throwaway embedded PostgreSQL kept running
//! until Ctrl-C, for poking at with psql.

use std::process::ExitCode;

use crate::cluster;
use crate::error::Result;

pub async fn run() -> Result<ExitCode> {
    let mut stop = super::interrupts()?;
    let c = cluster::shared()?;
    out!("{} running in {}", c.bin().version, c.run_dir().display());
    out!("connect: psql '{}'", c.url("postgres"));
    out!("stop: press Ctrl-C; the server and its directory are removed");
    stop.recv().await;
    out!("stopping the embedded server");
    Ok(ExitCode::SUCCESS)
}
