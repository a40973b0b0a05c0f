//! The command line of `shoal`, declared with clap.
//!
//! Invariant: flags are named as the issue names them (`--condition`, `--update`,
//! `--key-condition`, `--filter`, `--projection`, `--names`, `--values`, `--consistent`,
//! `--limit`, `--reverse`, `--segment i/n`); JSON arguments may be given inline or as
//! `@path` to read a file.
//! Does not interpret JSON (see `json`); values are checked when a command runs.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Shoal's command-line tool: a local cluster, tables and items.
#[derive(Parser, Debug)]
#[command(name = "shoal", version, about)]
pub struct Cli {
    /// Cluster file (default: $SHOAL_CLUSTER, else ./shoal-data/cluster.toml).
    #[arg(long, global = true)]
    pub cluster: Option<PathBuf>,
    /// Read and write DynamoDB's typed JSON ({"S": "x"}) instead of plain JSON.
    #[arg(long, global = true)]
    pub typed: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start a local cluster of shoal-node processes (or restart the nodes of DIR).
    Up(UpArgs),
    /// Stop the local cluster in DIR.
    Down(DownArgs),
    /// Nodes, shards, partitions, leaders and health (non-zero exit if a shard is down).
    Status,
    /// Move partition leaders between their replicas (`move`, `spread`).
    #[command(subcommand)]
    Leader(LeaderCommand),
    /// Create, describe, list or delete tables.
    #[command(subcommand)]
    Table(TableCommand),
    /// PutItem: create or replace an item.
    Put(PutArgs),
    /// GetItem: read an item by key.
    Get(GetArgs),
    /// UpdateItem: modify or create an item.
    Update(UpdateArgs),
    /// DeleteItem: delete an item by key.
    Delete(DeleteArgs),
    /// Query: items of one partition key.
    Query(QueryArgs),
    /// Scan: every item of a table (or of one segment).
    Scan(ScanArgs),
}

/// `shoal up`.
#[derive(Args, Debug, Clone)]
pub struct UpArgs {
    /// Number of nodes (each partition and the metadata get a replica on three of them).
    #[arg(long, default_value_t = 3)]
    pub nodes: u32,
    /// Shards per node (default: the CPUs this process may use shared out among the nodes,
    /// between 1 and 2 each).
    #[arg(long)]
    pub shards_per_node: Option<u16>,
    /// Directory of the cluster (configs, data, logs, PID files).
    #[arg(long, default_value = "./shoal-data")]
    pub dir: PathBuf,
    /// First port; node i uses the next 2 × shards ports (client, then peer). Default: a
    /// free range.
    #[arg(long)]
    pub base_port: Option<u16>,
    /// Seconds to wait until every shard serves.
    #[arg(long, default_value_t = 60)]
    pub wait_s: u64,
    /// Page cache per shard, bytes.
    #[arg(long, default_value_t = 64 << 20)]
    pub cache_bytes: usize,
    /// Do not start the DynamoDB-compatible HTTP gateway (`shoal-router`).
    #[arg(long)]
    pub no_gateway: bool,
}

/// `shoal down`.
#[derive(Args, Debug, Clone)]
pub struct DownArgs {
    /// Directory of the cluster.
    #[arg(long, default_value = "./shoal-data")]
    pub dir: PathBuf,
}

/// `shoal leader ...`.
#[derive(Subcommand, Debug)]
pub enum LeaderCommand {
    /// Hands a partition's leadership to its replica on node NODE, e.g.
    /// `shoal leader move 65537 --to 3` (partition ids as `shoal status` lists them).
    Move {
        /// Partition id.
        partition: u64,
        /// Node of the replica that should lead.
        #[arg(long)]
        to: u32,
    },
    /// Hands every partition's leadership to its first listed replica, which spreads the
    /// leaders of each table evenly over the nodes (elections after a restart may have
    /// gathered them on a few).
    Spread {
        /// Only this table's partitions.
        #[arg(long)]
        table: Option<String>,
    },
}

/// `shoal table ...`.
#[derive(Subcommand, Debug)]
pub enum TableCommand {
    /// CreateTable, e.g. `shoal table create users --pk id:S --sk ts:N`.
    Create {
        /// Table name.
        name: String,
        /// Partition key as NAME:TYPE (TYPE is S, N or B).
        #[arg(long)]
        pk: String,
        /// Sort key as NAME:TYPE.
        #[arg(long)]
        sk: Option<String>,
        /// PAY_PER_REQUEST (default) or PROVISIONED.
        #[arg(long, default_value = "PAY_PER_REQUEST")]
        billing_mode: String,
        /// Read capacity units (PROVISIONED).
        #[arg(long)]
        read_capacity: Option<u64>,
        /// Write capacity units (PROVISIONED).
        #[arg(long)]
        write_capacity: Option<u64>,
    },
    /// DescribeTable.
    Describe {
        /// Table name.
        name: String,
    },
    /// ListTables (every name).
    List,
    /// DeleteTable.
    Delete {
        /// Table name.
        name: String,
    },
}

/// Expression placeholders shared by the item commands.
#[derive(Args, Debug, Clone, Default)]
pub struct Placeholders {
    /// ExpressionAttributeNames as a JSON object: {"#n": "name"}.
    #[arg(long)]
    pub names: Option<String>,
    /// ExpressionAttributeValues as a JSON object: {":v": 1} (typed with --typed).
    #[arg(long)]
    pub values: Option<String>,
}

/// `shoal put`.
#[derive(Args, Debug)]
pub struct PutArgs {
    /// Table name.
    pub table: String,
    /// The item as JSON (or @file).
    pub item: String,
    /// ConditionExpression.
    #[arg(long)]
    pub condition: Option<String>,
    /// ReturnValues: NONE or ALL_OLD.
    #[arg(long)]
    pub return_values: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub placeholders: Placeholders,
}

/// `shoal get`.
#[derive(Args, Debug)]
pub struct GetArgs {
    /// Table name.
    pub table: String,
    /// The key as JSON (or @file).
    pub key: String,
    /// ProjectionExpression.
    #[arg(long)]
    pub projection: Option<String>,
    /// ExpressionAttributeNames as a JSON object.
    #[arg(long)]
    pub names: Option<String>,
    /// Strongly consistent read.
    #[arg(long)]
    pub consistent: bool,
}

/// `shoal update`.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Table name.
    pub table: String,
    /// The key as JSON (or @file).
    pub key: String,
    /// UpdateExpression.
    #[arg(long)]
    pub update: String,
    /// ConditionExpression.
    #[arg(long)]
    pub condition: Option<String>,
    /// ReturnValues: NONE, ALL_OLD, UPDATED_OLD, ALL_NEW or UPDATED_NEW.
    #[arg(long)]
    pub return_values: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub placeholders: Placeholders,
}

/// `shoal delete`.
#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Table name.
    pub table: String,
    /// The key as JSON (or @file).
    pub key: String,
    /// ConditionExpression.
    #[arg(long)]
    pub condition: Option<String>,
    /// ReturnValues: NONE or ALL_OLD.
    #[arg(long)]
    pub return_values: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub placeholders: Placeholders,
}

/// Options shared by query and scan.
#[derive(Args, Debug, Clone, Default)]
pub struct ReadOptions {
    /// FilterExpression.
    #[arg(long)]
    pub filter: Option<String>,
    /// ProjectionExpression.
    #[arg(long)]
    pub projection: Option<String>,
    /// Strongly consistent read.
    #[arg(long)]
    pub consistent: bool,
    /// Limit: read at most this many items, as one page (prints LastEvaluatedKey); without
    /// it every page is read.
    #[arg(long)]
    pub limit: Option<u32>,
    /// ExclusiveStartKey as JSON (a LastEvaluatedKey printed before).
    #[arg(long)]
    pub start_key: Option<String>,
    /// IndexName.
    #[arg(long)]
    pub index: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub placeholders: Placeholders,
}

/// `shoal query`.
#[derive(Args, Debug)]
pub struct QueryArgs {
    /// Table name.
    pub table: String,
    /// KeyConditionExpression.
    #[arg(long)]
    pub key_condition: String,
    /// Descending sort-key order.
    #[arg(long)]
    pub reverse: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub read: ReadOptions,
}

/// `shoal scan`.
#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Table name.
    pub table: String,
    /// Parallel scan: segment i of n, as i/n.
    #[arg(long, value_parser = parse_segment)]
    pub segment: Option<(u32, u32)>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub read: ReadOptions,
}

/// Parses `i/n`.
pub fn parse_segment(text: &str) -> Result<(u32, u32), String> {
    let (segment, total) = text
        .split_once('/')
        .ok_or_else(|| format!("segment {text:?} is not of the form i/n"))?;
    let number = |part: &str| {
        part.trim()
            .parse::<u32>()
            .map_err(|_| format!("segment {text:?}: {part:?} is not a number"))
    };
    Ok((number(segment)?, number(total)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("shoal").chain(line.split_whitespace()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn issue_examples_parse() {
        let cli = parse("table create users --pk id:S --sk ts:N").unwrap();
        let Command::Table(TableCommand::Create { name, pk, sk, .. }) = cli.command else {
            panic!("table create")
        };
        assert_eq!(
            (name.as_str(), pk.as_str(), sk.as_deref()),
            ("users", "id:S", Some("ts:N"))
        );
        let cli = parse("--cluster c.toml scan t --segment 2/4 --limit 10 --consistent").unwrap();
        assert_eq!(cli.cluster, Some(PathBuf::from("c.toml")));
        let Command::Scan(scan) = cli.command else {
            panic!("scan")
        };
        assert_eq!(scan.segment, Some((2, 4)));
        assert_eq!(scan.read.limit, Some(10));
        assert!(scan.read.consistent);
        let cli = parse("up --nodes 3 --shards-per-node 2 --dir /tmp/x --base-port 7000").unwrap();
        let Command::Up(up) = cli.command else {
            panic!("up")
        };
        assert_eq!(
            (up.nodes, up.shards_per_node, up.base_port),
            (3, Some(2), Some(7000))
        );
        let cli = parse("query t --key-condition id=:v --values {} --reverse --typed").unwrap();
        assert!(cli.typed);
        let Command::Query(query) = cli.command else {
            panic!("query")
        };
        assert!(query.reverse);
        assert_eq!(query.read.placeholders.values.as_deref(), Some("{}"));
    }

    #[test]
    fn usage_errors_are_clap_errors() {
        assert!(parse("scan t --segment 2").is_err());
        assert!(parse("update t {}").is_err(), "--update is required");
        assert!(parse("table create users").is_err(), "--pk is required");
        assert_eq!(
            parse_segment("1/x").unwrap_err(),
            "segment \"1/x\": \"x\" is not a number"
        );
    }
}
