//! Setup shared by the query and write benches: criterion's settings and the
//! runtime the benchmarks run on; [`reads`] holds the read benchmarks
//! themselves, which `tests/workflow.rs` runs too.

pub mod reads;

use std::time::Duration;

use criterion::{Criterion, PlottingBackend};
use helpdesk_bench::measure::{BaselineMode, CriterionRun};

/// Short warm-up and measurement with 20 flat samples: enough for stable
/// medians of queries from 50 µs to 300 ms, within the time budget of a
/// full `cargo bench`. Command-line flags still override.
///
/// `--baseline NAME` is made lenient: a benchmark without that baseline
/// (a query that exists only after the migration) is measured and reported
/// as new instead of making criterion panic. A name that no benchmark has
/// at all is still refused, since it is most likely a typo.
pub fn criterion(run: &CriterionRun) -> anyhow::Result<Criterion> {
    let c = quiet_default()
        .plotting_backend(PlottingBackend::Plotters)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args();
    with_baseline(c, run)
}

/// Applies `run`'s baseline flags to `c`: `--save-baseline NAME` saves
/// under `NAME`; `--baseline NAME` and `--baseline-lenient NAME` compare
/// with it leniently, after refusing a strict name no benchmark has.
pub fn with_baseline(c: Criterion, run: &CriterionRun) -> anyhow::Result<Criterion> {
    match &run.args.baseline {
        BaselineMode::Compare { name, strict } => {
            if *strict && !run.any_baseline() {
                anyhow::bail!(
                    "no benchmark in {} has baseline '{name}'; save one first with `cargo bench --bench queries -- --save-baseline {name}`, or check the name",
                    run.root.display()
                );
            }
            Ok(c.retain_baseline(name.clone(), false))
        }
        BaselineMode::Save(name) => Ok(c.save_baseline(name.clone())),
        BaselineMode::Default => Ok(c),
    }
}

/// `Criterion::default()` looks for gnuplot and prints "Gnuplot not found,
/// using plotters backend" whatever backend is chosen afterwards. The
/// plotters backend is built in, so that line says nothing a user needs:
/// stderr goes to /dev/null for this one call.
fn quiet_default() -> Criterion {
    use std::os::fd::AsRawFd;
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null");
    let saved = nix::unistd::dup(2);
    match (null, saved) {
        (Ok(null), Ok(saved)) => {
            let _ = nix::unistd::dup2(null.as_raw_fd(), 2);
            let c = Criterion::default();
            let _ = nix::unistd::dup2(saved, 2);
            let _ = nix::unistd::close(saved);
            c
        }
        _ => Criterion::default(),
    }
}

/// One thread drives both the benchmark and the connection, as pgbench's
/// single blocking loop does: no cross-thread wake-up inside the timing.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// The seeded workspace a bench runs in: `DATABASE_URL`, or the embedded
/// database at the bench scale (tiny in test mode), seed 1, with every
/// migration of `chain` applied.
pub fn workspace(
    rt: &tokio::runtime::Runtime,
    bench_mode: bool,
    chain: &helpdesk_bench::schema::MigrationChain,
) -> helpdesk_bench::Result<helpdesk_bench::workspace::Workspace> {
    use helpdesk_bench::workspace::Workspace;
    let url = std::env::var(helpdesk_bench::cluster::URL_ENV).ok();
    let scale = Workspace::bench_scale(bench_mode)?;
    let progress = helpdesk_bench::seed::Reporter::auto(false);
    let like = std::env::var(helpdesk_bench::workspace::LIKE_ENV).ok();
    rt.block_on(Workspace::open_for(
        url.as_deref(),
        like.as_deref(),
        scale,
        1,
        chain,
        &progress,
    ))
}

/// A bench's exit status under the tool's one policy
/// (`helpdesk_bench::error::exit`): an error is one `error:` line and
/// status 2 (130 when interrupted).
pub fn exit(outcome: anyhow::Result<()>) -> std::process::ExitCode {
    use helpdesk_bench::error::exit;
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            let code = match e.downcast_ref::<helpdesk_bench::Error>() {
                Some(err) => err.exit_code(),
                None => exit::FAILED,
            };
            std::process::ExitCode::from(code)
        }
    }
}

/// The variable naming the folder the benches write their run folders
/// into (default: `reports` in the package, where `cargo bench` runs them).
pub const REPORTS_ENV: &str = "HELPDESK_BENCH_REPORTS";

/// The reports folder: `HELPDESK_BENCH_REPORTS`, else `reports` in the
/// working directory (the package root, under cargo).
pub fn reports_dir() -> std::path::PathBuf {
    std::env::var_os(REPORTS_ENV)
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from("reports"))
}

/// True under `cargo bench`; false in criterion's test mode (`cargo test`).
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}
