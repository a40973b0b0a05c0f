//! Bad input: garbage bytes, oversized, truncated and corrupted frames on raw connections
//! get a typed error reply or a closed connection, never a hang or a crash, while another
//! client keeps being served; invalid items and expressions get `ValidationException`.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use shoal_router::{AttributeValue, Client, ErrorKind, Item};
use shoal_wire::Decoded;
use shoal_wire::frame::{FRAME_HEADER_SIZE, decode_frame, encode_frame};
use shoal_wire::limits::FRAME_SIZE_MAX;
use shoal_wire::message::MessageKind;

use crate::harness::{TestCluster, create_table};

/// Longest wait for a node to answer or close a raw connection.
const RAW_WAIT: Duration = Duration::from_secs(5);

/// What a node did with raw bytes.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// It closed the connection.
    Closed,
    /// It answered with a frame of this kind.
    Replied(MessageKind),
}

/// Sends `bytes` on a fresh connection (then half-closes if `finish`) and reports what the
/// node did; panics if it neither answered nor closed within `RAW_WAIT`.
fn send_raw(name: &str, address: &str, bytes: &[u8], finish: bool) -> Outcome {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(RAW_WAIT)).unwrap();
    // The node may close before everything is written; that is an acceptable outcome.
    let _ = stream.write_all(bytes);
    if finish {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Outcome::Closed,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Outcome::Closed,
            Err(e) => {
                panic!("{name} at {address}: no answer and no close within {RAW_WAIT:?}: {e}")
            }
        }
        if let Ok(Decoded::Frame(frame)) = decode_frame(&answer) {
            return Outcome::Replied(frame.header.kind);
        }
    }
}

/// Deterministic pseudo-random bytes.
fn noise(count: usize, mut state: u64) -> Vec<u8> {
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect()
}

fn put_frame(client: &Client, id: &str) -> Vec<u8> {
    let request = client
        .put_item("victims")
        .attribute("pk", id)
        .attribute("pad", "x".repeat(200))
        .into_request();
    encode_frame(7, &request).unwrap()
}

/// Rewrites a frame's CRC after an edit, so only the edited field is wrong.
fn fix_crc(frame: &mut [u8]) {
    let crc = crc32c::crc32c(&frame[8..]);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
}

async fn still_served(witness: &Client, round: usize) {
    let id = format!("witness-{round}");
    witness
        .put_item("victims")
        .attribute("pk", id.as_str())
        .send()
        .await
        .expect("witness put");
    let got = witness
        .get_item("victims")
        .key("pk", id.as_str())
        .consistent_read(true)
        .send()
        .await;
    assert!(got.expect("witness get").item.is_some(), "round {round}");
}

#[tokio::test]
async fn bad_frames_get_an_error_or_a_close_and_others_are_still_served() {
    let cluster = TestCluster::start("bad", 1, 2);
    let witness = cluster.client().await;
    create_table(&witness, "victims", false).await;
    still_served(&witness, 0).await;
    let node = &cluster.file.nodes[0];
    let shards: Vec<String> = (0..node.shards)
        .map(|s| format!("{}:{}", node.host, node.client_port_base + s))
        .collect();
    let valid = put_frame(&witness, "valid");
    assert_eq!(
        crc32c::crc32c(&valid[8..]).to_le_bytes(),
        valid[4..8],
        "test CRC matches the wire's"
    );

    let mut oversized = valid.clone();
    oversized[0..4].copy_from_slice(&(FRAME_SIZE_MAX + 1).to_le_bytes());
    let mut too_small = valid.clone();
    too_small[0..4].copy_from_slice(&3u32.to_le_bytes());
    let mut bad_crc = valid.clone();
    *bad_crc.last_mut().unwrap() ^= 0x55;
    let mut bad_payload = valid.clone();
    for (i, byte) in noise(valid.len() - FRAME_HEADER_SIZE, 9)
        .into_iter()
        .enumerate()
    {
        bad_payload[FRAME_HEADER_SIZE + i] = byte;
    }
    fix_crc(&mut bad_payload);
    let mut unknown_kind = valid.clone();
    unknown_kind[10..12].copy_from_slice(&0x7777u16.to_le_bytes());
    fix_crc(&mut unknown_kind);
    let truncated = put_frame(&witness, "truncated")[..valid.len() / 2].to_vec();

    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("garbage", noise(4096, 1), true),
        (
            "oversized length",
            oversized[..FRAME_HEADER_SIZE].to_vec(),
            false,
        ),
        ("length below the header", too_small, false),
        ("checksum mismatch", bad_crc, false),
        ("truncated frame", truncated, true),
        ("garbage payload behind a good checksum", bad_payload, true),
        ("unknown message kind", unknown_kind, true),
    ];
    for (round, (name, bytes, finish)) in cases.into_iter().enumerate() {
        let address = &shards[round % shards.len()];
        let outcome = send_raw(name, address, &bytes, finish);
        assert!(
            matches!(
                outcome,
                Outcome::Closed | Outcome::Replied(MessageKind::ErrorReply)
            ),
            "{name}: {outcome:?}"
        );
        still_served(&witness, round + 1).await;
    }
    let truncated = witness
        .get_item("victims")
        .key("pk", "truncated")
        .consistent_read(true)
        .send()
        .await;
    assert!(
        truncated.unwrap().item.is_none(),
        "half a frame must not write anything"
    );
    invalid_requests(&witness).await;
}

async fn invalid_requests(client: &Client) {
    let validation = |result: Result<_, shoal_router::Error>, what: &str| {
        let error = result.err().unwrap_or_else(|| panic!("{what}: accepted"));
        assert_eq!(error.kind(), Some(ErrorKind::Validation), "{what}: {error}");
    };
    validation(
        client
            .put_item("victims")
            .attribute("pk", "")
            .send()
            .await
            .map(|_| ()),
        "empty key",
    );
    let empty_set = Item::from([
        ("pk".to_owned(), AttributeValue::S("set".into())),
        ("tags".to_owned(), AttributeValue::Ss(Vec::new())),
    ]);
    validation(
        client
            .put_item("victims")
            .item(empty_set)
            .send()
            .await
            .map(|_| ()),
        "empty set",
    );
    let huge = "x".repeat(401 * 1024);
    validation(
        client
            .put_item("victims")
            .attribute("pk", "huge")
            .attribute("v", huge)
            .send()
            .await
            .map(|_| ()),
        "item over 400 KB",
    );
    validation(
        client
            .put_item("victims")
            .attribute("n", 1)
            .send()
            .await
            .map(|_| ()),
        "item without its key",
    );
    validation(
        client
            .update_item("victims")
            .key("pk", "a")
            .update_expression("SET")
            .send()
            .await
            .map(|_| ()),
        "unparsable update",
    );
    validation(
        client
            .update_item("victims")
            .key("pk", "a")
            .update_expression("SET v = :v")
            .expression_attribute_value(":v", 1)
            .expression_attribute_value(":unused", 2)
            .send()
            .await
            .map(|_| ()),
        "unused placeholder",
    );
    validation(
        client
            .query("victims")
            .key_condition_expression("pk > :v")
            .expression_attribute_value(":v", "a")
            .send()
            .await
            .map(|_| ()),
        "range condition on the partition key",
    );
}
