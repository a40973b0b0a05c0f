//! `shoal-router`: the DynamoDB-compatible HTTP gateway. Reads the cluster file, connects
//! the client library, listens on `--listen` and serves DynamoDB's JSON protocol, checking
//! SigV4 signatures against `--credentials` (or nothing with `--no-auth`).
//!
//! Invariant: it starts serving only after the cluster answered (the client connected) and
//! the credentials file parsed; a startup failure names the file or address at fault. It
//! prints `listening on http://ADDR` on stdout once the socket is bound, so scripts can wait
//! for that line.
//! Does not daemonize or write a PID file (`shoal up` does that for local clusters).

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Parser;
use shoal_router::Client;
use shoal_router::gateway::{Auth, Credentials, Gateway, serve};

/// mimalloc: glibc's malloc cost the gateway a fifth of its CPU (buffers and JSON values
/// freed on other worker threads than the one that allocated them).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// DynamoDB-compatible HTTP gateway for a Shoal cluster.
#[derive(Debug, Parser)]
#[command(name = "shoal-router", version)]
struct Args {
    /// The cluster file (`cluster.toml` written by `shoal up`).
    #[arg(long, default_value = "./shoal-data/cluster.toml")]
    cluster: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: String,
    /// AWS-format credentials file: every profile's aws_access_key_id and
    /// aws_secret_access_key may sign requests.
    #[arg(long, conflicts_with = "no_auth")]
    credentials: Option<PathBuf>,
    /// Accept unsigned requests. For local experiments only.
    #[arg(long)]
    no_auth: bool,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SHOAL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let auth = match (&args.credentials, args.no_auth) {
        (Some(path), false) => Auth::SigV4(Credentials::load(path).map_err(anyhow::Error::msg)?),
        (None, true) => {
            eprintln!(
                "WARNING: --no-auth: requests are not authenticated; anyone who can reach \
                 {} can read and write every table. Use it for local experiments only.",
                args.listen
            );
            Auth::None
        }
        _ => bail!("give --credentials FILE (AWS credentials-file format) or --no-auth"),
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads.max(1));
    }
    let runtime = runtime
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    runtime.block_on(run(args, auth))
}

async fn run(args: Args, auth: Auth) -> anyhow::Result<()> {
    let client = Client::connect(&args.cluster).await.with_context(|| {
        format!(
            "cannot connect to the cluster of {}",
            args.cluster.display()
        )
    })?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}: is the port in use?", args.listen))?;
    let address = listener
        .local_addr()
        .context("listening socket has no address")?;
    println!("listening on http://{address}");
    let gateway = Arc::new(Gateway::new(client, auth));
    tokio::select! {
        result = serve(listener, gateway) => result.context("gateway stopped"),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
