//! `helpdesk-bench server`: a throwaway embedded PostgreSQL kept running
//! until Ctrl-C (optionally preloading libraries such as
//! pg_stat_statements), and `server stop DIR` for one left running by
//! `seed --keep`.

use std::process::ExitCode;

use crate::cli::ServerAction;
use crate::cluster::{self, Cluster, StartOptions};
use crate::error::Result;

pub async fn run(action: Option<ServerAction>, preload: Vec<String>) -> Result<ExitCode> {
    if let Some(ServerAction::Stop { dir }) = action {
        cluster::stop_detached(&dir)?;
        out!("stopped and removed {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let mut stop = super::interrupts()?;
    let own;
    let c = if preload.is_empty() {
        cluster::shared()?
    } else {
        own = Cluster::start_with(StartOptions {
            preload,
            ..Default::default()
        })?;
        &own
    };
    out!("{} running in {}", c.bin().version, c.run_dir().display());
    out!("connect: psql '{}'", c.url("postgres"));
    out!("stop: press Ctrl-C; the server and its directory are removed");
    stop.recv().await;
    out!("stopping the embedded server");
    Ok(ExitCode::SUCCESS)
}
