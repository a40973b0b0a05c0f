//! The `shoal` command line: argument definitions (`args`), the item and table commands
//! (`items`, `tables`), JSON conversion (`json`, `base64`, re-exported from `shoal_router::json`) and output (`output`); `run`
//! dispatches a parsed command line, the local cluster commands to `crate::local`.
//!
//! Invariant: every failure is a [`CliError`] whose first line names DynamoDB's error
//! (`ValidationException: ...`) for request problems; nothing is printed to stdout unless
//! the command succeeded.
//! Does not parse `std::env::args` itself (`main` does) so tests can drive it.

pub mod args;
pub mod items;
pub mod leaders;
pub mod output;
pub mod tables;

use std::path::PathBuf;

use shoal_router::Client;

pub use args::{Cli, Command};
// DynamoDB JSON lives in the router crate, which the HTTP gateway shares.
pub use shoal_router::json::base64;
pub use shoal_router::json::value as json;

use crate::local;

/// The cluster file used when neither `--cluster` nor `SHOAL_CLUSTER` names one.
pub const CLUSTER_FILE_DEFAULT: &str = "./shoal-data/cluster.toml";
/// The environment variable naming the cluster file.
pub const CLUSTER_FILE_ENV: &str = "SHOAL_CLUSTER";

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The cluster answered with an error, or could not be reached.
    #[error("{}: {}", .0.name(), .0.message())]
    Router(#[from] shoal_router::Error),
    /// The command's input is invalid (bad JSON, a bad flag value).
    #[error("ValidationException: {0}")]
    Invalid(String),
    /// The local cluster could not be started, stopped or inspected.
    #[error("error: {0}")]
    Local(String),
}

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let dialect = if cli.typed {
        json::Dialect::Typed
    } else {
        json::Dialect::Plain
    };
    let cluster = cluster_file(cli.cluster);
    match cli.command {
        Command::Up(up) => local::up::run(up).await,
        Command::Down(down) => local::down::run(&down.dir),
        Command::Status => local::status::run(&cluster).await,
        Command::Leader(leader) => leaders::run(connect(&cluster).await?, leader).await,
        Command::Table(table) => tables::run(connect(&cluster).await?, table).await,
        Command::Put(put) => items::put(connect(&cluster).await?, put, dialect).await,
        Command::Get(get) => items::get(connect(&cluster).await?, get, dialect).await,
        Command::Update(update) => items::update(connect(&cluster).await?, update, dialect).await,
        Command::Delete(delete) => items::delete(connect(&cluster).await?, delete, dialect).await,
        Command::Query(query) => items::query(connect(&cluster).await?, query, dialect).await,
        Command::Scan(scan) => items::scan(connect(&cluster).await?, scan, dialect).await,
    }
}

/// `--cluster`, else `$SHOAL_CLUSTER`, else the default path.
pub fn cluster_file(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os(CLUSTER_FILE_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(CLUSTER_FILE_DEFAULT))
}

async fn connect(cluster: &std::path::Path) -> Result<Client, CliError> {
    if !cluster.exists() {
        return Err(CliError::Local(format!(
            "no cluster file at {} (start a local cluster with `shoal up`, or pass --cluster \
             or set {CLUSTER_FILE_ENV})",
            cluster.display()
        )));
    }
    match Client::connect(cluster).await {
        Ok(client) => Ok(client),
        Err(
            error @ (shoal_router::Error::Transport { .. } | shoal_router::Error::Timeout { .. }),
        ) => Err(CliError::Local(format!(
            "cannot reach any node of {}: {} (is the cluster running? see `shoal status`)",
            cluster.display(),
            error.message()
        ))),
        Err(error) => Err(error.into()),
    }
}
