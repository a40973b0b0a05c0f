//! `shoal leader move|spread`: an operator placing partition leaders on chosen replicas
//! (after elections gathered them on a few nodes, before maintenance, or to run benchmarks
//! with a known placement).
//!
//! Invariant: every move goes through the partition's leader (TransferLeader), which
//! answers only once raft names the new leader, so the printed placement is raft's.
//! Does not move the metadata group's leadership, and never changes a partition's replicas.

use shoal_router::Client;

use super::CliError;
use super::args::LeaderCommand;

/// Runs one `shoal leader` subcommand.
pub async fn run(client: Client, command: LeaderCommand) -> Result<(), CliError> {
    match command {
        LeaderCommand::Move { partition, to } => {
            let answer = client.transfer_leader(partition, to).send().await?;
            let how = if answer.moved {
                "moved"
            } else {
                "already there"
            };
            println!(
                "partition {partition}: led by node {} ({how})",
                answer.leader.0
            );
        }
        LeaderCommand::Spread { table } => {
            let mut request = client.get_partition_map();
            if let Some(table) = table {
                request = request.table_name(table);
            }
            let map = request.send().await?;
            let (mut moves, mut failures) = (0usize, Vec::new());
            for t in &map.tables {
                for p in &t.partitions {
                    let Some(first) = p.replicas.first() else {
                        continue;
                    };
                    // One partition that cannot move does not stop the others.
                    match client
                        .transfer_leader(p.partition.0, first.node.0)
                        .send()
                        .await
                    {
                        Ok(answer) => {
                            moves += usize::from(answer.moved);
                            println!(
                                "table {} partition {}: led by node {}{}",
                                t.table_name,
                                p.partition.0,
                                answer.leader.0,
                                if answer.moved { " (moved)" } else { "" }
                            );
                        }
                        Err(e) => {
                            eprintln!(
                                "table {} partition {}: {}: {}",
                                t.table_name,
                                p.partition.0,
                                e.name(),
                                e.message()
                            );
                            failures.push(p.partition.0);
                        }
                    }
                }
            }
            println!("{moves} leadership(s) moved");
            if !failures.is_empty() {
                return Err(CliError::Local(format!(
                    "{} partition(s) not moved: {failures:?}",
                    failures.len()
                )));
            }
        }
    }
    Ok(())
}
