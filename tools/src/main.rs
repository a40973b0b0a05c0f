//! `shoal`: Shoal's command-line tool. Parses the command line, runs it on a single-thread
//! tokio runtime, and reports failures on stderr as `<DynamoDBErrorName>: <message>` (exit
//! code 1; clap's usage errors exit with 2).

use std::process::ExitCode;

use clap::Parser;
use shoal_tools::cli::{self, Cli};

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so `println!` into a closed pipe (`shoal status | head`)
    // panicked. Like other command-line tools, `shoal` ends quietly when its reader has
    // gone. Its sockets are unaffected: the standard library sends with MSG_NOSIGNAL.
    // SAFETY: nothing else runs yet, and SIG_DFL installs no handler of ours.
    let _ = unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        )
    };
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
