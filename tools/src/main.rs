//! `shoal`: Shoal's command-line tool. Parses the command line, runs it on a single-thread
//! tokio runtime, and reports failures on stderr as `<DynamoDBErrorName>: <message>` (exit
//! code 1; clap's usage errors exit with 2).

use std::process::ExitCode;

use clap::Parser;
use shoal_tools::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}
