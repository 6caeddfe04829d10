//! Running a parsed command line: one file per subcommand, each printing its
//! results. This is the only place that writes to stdout.

/// `println!` that ignores a closed stdout (`helpdesk-bench ... | head`),
/// instead of panicking on EPIPE.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Holds the run to `policies` (none: passes without a word): prints each
/// failed check and the tally, writes `junit.xml` into `dir`, and gives
/// the exit status (1 when a check failed).
pub(crate) fn gate(
    policies: &crate::gate::Policies,
    evidence: &crate::gate::checks::Evidence,
    dir: &std::path::Path,
) -> crate::error::Result<std::process::ExitCode> {
    if policies.is_empty() {
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let outcome = crate::gate::judge(policies, evidence, dir)?;
    for line in outcome.lines(evidence.what) {
        out!("{line}");
    }
    out!("{}", dir.join("junit.xml").display());
    Ok(std::process::ExitCode::from(outcome.exit_code()))
}

mod advise;
mod catalogue;
mod embedded;
mod explain;
mod like;
mod load;
mod migrate;
mod rehearse;
mod report;
mod seed;
mod server;
mod sweep;
mod verify;

use std::process::ExitCode;

use tokio::signal::unix::{Signal, SignalKind};

use crate::cli::{Cli, Command};
use crate::cluster;
use crate::error::{Context, Error, Result};
use crate::guard;

/// Runs the command on a fresh tokio runtime, stopping at Ctrl-C, and
/// returns the process exit code. Errors print as one `error:` line.
pub fn main(cli: Cli) -> ExitCode {
    if let Command::Guard { .. } = cli.command {
        // Before any runtime or signal handler: a guard ignores signals.
        return guard::serve();
    }
    init_logging();
    let outcome = match tokio::runtime::Runtime::new() {
        Ok(rt) => {
            // `server` waits for Ctrl-C itself: for it, Ctrl-C is the way to stop.
            let own_interrupt = matches!(cli.command, Command::Server { action: None, .. });
            let out = rt.block_on(async {
                if own_interrupt {
                    return run(cli).await;
                }
                // Registered before any work starts, so no signal is missed.
                let mut sigint = interrupts()?;
                let mut sigterm = signal(SignalKind::terminate(), "SIGTERM")?;
                let mut work = Box::pin(run(cli));
                let out = tokio::select! {
                    r = &mut work => r,
                    _ = sigint.recv() => stop().await,
                    _ = sigterm.recv() => stop().await,
                };
                // Dropping the work closes its connections and the pipes
                // of its guards, which then undo what it left changed.
                drop(work);
                with_guards(out, guard::settle().await)
            });
            // Dropping the runtime closes every connection, so the server
            // aborts whatever transaction was open.
            drop(rt);
            out
        }
        Err(e) => Err(Error::io("tokio runtime", e)),
    };
    cluster::stop_shared_cluster();
    match outcome {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Migrate {
            action,
            conn,
            migration,
        } => migrate::run(action, conn, migration).await,
        Command::Verify {
            conn,
            migration,
            like,
            seed,
        } => verify::run(conn, migration, like, seed, cli.quiet).await,
        Command::Seed(args) => seed::run(args, cli.quiet).await,
        Command::Explain(args) => explain::run(args, cli.quiet).await,
        Command::Sweep(args) => sweep::run(args, cli.quiet).await,
        Command::Load(args) => load::run(args, cli.quiet).await,
        Command::Advise(args) => advise::run(args, cli.quiet).await,
        Command::Rehearse(args) => rehearse::run(args, cli.quiet).await,
        Command::Report(args) => report::run(args),
        Command::Catalogue(args) => catalogue::run(args, cli.quiet).await,
        Command::Server { action, preload } => server::run(action, preload).await,
        Command::Guard { .. } => Err(Error::BadInput(format!(
            "`{}` is started by helpdesk-bench itself, not by hand",
            guard::COMMAND
        ))),
    }
}

/// Says what each guard awaited on the way out found: a verified undoing
/// in one line; one not verified becomes the error (or, after another
/// error, is printed beside it) with the SQL still to run.
fn with_guards(mut out: Result<ExitCode>, outcomes: Vec<guard::Outcome>) -> Result<ExitCode> {
    for o in outcomes {
        match o.into_result() {
            Ok(summary) => eprintln!("{summary}"),
            Err(e) => match out {
                Ok(_) => out = Err(e),
                Err(_) => print_error(&e),
            },
        }
    }
    out
}

/// An error as one `error:` line, then, when a restore is unfinished, the
/// SQL still to run as one block to paste.
fn print_error(e: &Error) {
    eprintln!("error: {}", one_line(e));
    if let Some(sql) = e.sql_to_run() {
        eprintln!("{}", sql.trim_end());
    }
}

/// Prints a command-line mistake as one line (help and version as usual).
pub fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or("error: bad arguments");
    eprintln!("{first}; see `helpdesk-bench --help`");
    ExitCode::from(crate::error::exit::FAILED)
}

/// On Ctrl-C or SIGTERM, while the interrupted work still holds its
/// connections: asks the server to cancel what they run (a statement, or a
/// wait for a lock), so nothing queued outlives the tool. Dropping the work
/// then closes the connections, and the server rolls back their
/// transactions.
async fn stop() -> Result<ExitCode> {
    cluster::cancel_all().await;
    Err(Error::Interrupted)
}

/// A stream of SIGINTs, listening from the moment it is created.
pub(crate) fn interrupts() -> Result<Signal> {
    signal(SignalKind::interrupt(), "SIGINT")
}

fn signal(kind: SignalKind, name: &str) -> Result<Signal> {
    tokio::signal::unix::signal(kind).context(format!("{name} handler"))
}

/// An error and its causes on one line: `what: because: because`.
pub fn one_line(e: &Error) -> String {
    crate::error::chain(e)
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HELPDESK_BENCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
