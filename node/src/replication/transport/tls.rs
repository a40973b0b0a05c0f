//! TLS for the replication transport: mutual TLS 1.3 with the cluster's CA, 0-RTT off.
//!
//! Both the rustls server and client configurations are built by hand: quinn-proto's
//! convenience constructors turn on 0-RTT acceptance (pitfall 12), and replayable early data
//! is a correctness hazard for raft traffic. Chain verification only proves "signed by the
//! cluster CA"; which node a certificate names is checked against membership by
//! [`verify_peer_node`] (pitfall 13). A node's name is `node<ID>.<cluster>` in the
//! certificate's subject alternative names.
//!
//! Not here: minting certificates (`certs.rs`), rotation and revocation lists.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use quinn_proto::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn_proto::{
    EndpointConfig, HashedConnectionIdGenerator, IdleTimeout, TransportConfig, VarInt,
};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::{Deserialize, Serialize};

/// The ALPN protocol of node-to-node connections; a peer speaking anything else is refused.
pub const ALPN: &[u8] = b"shoal-repl/1";

/// Where a node's certificate material lives (PEM files).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The cluster CA certificate every peer must chain to.
    pub ca_file: PathBuf,
    /// This node's certificate chain (leaf first).
    pub cert_file: PathBuf,
    /// This node's private key (PKCS#8, SEC1 or PKCS#1).
    pub key_file: PathBuf,
}

/// Why TLS material could not be used or a peer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no usable PEM item.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The material does not make a valid configuration (for instance a key that does not
    /// match the certificate).
    #[error("TLS configuration: {0}")]
    Config(String),
    /// A peer's certificate does not name the node it claims to be.
    #[error("peer certificate is not valid for {expected}: {reason}")]
    Identity {
        /// The name membership expects.
        expected: String,
        /// Why it does not match.
        reason: String,
    },
}

/// A node's loaded certificate material.
#[derive(Debug)]
pub struct TlsIdentity {
    ca: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for TlsIdentity {
    fn clone(&self) -> Self {
        Self {
            ca: self.ca.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl TlsIdentity {
    /// Reads the three PEM files.
    pub fn load(files: &TlsFiles) -> Result<Self, TlsError> {
        let ca = read_text(&files.ca_file)?;
        let cert = read_text(&files.cert_file)?;
        let key = read_text(&files.key_file)?;
        Self::from_pem(&ca, &cert, &key).map_err(|e| match e {
            TlsError::File { path, reason } => {
                let file = match path.as_str() {
                    "CA" => &files.ca_file,
                    "certificate" => &files.cert_file,
                    _ => &files.key_file,
                };
                TlsError::File {
                    path: file.display().to_string(),
                    reason: format!("{path}: {reason}"),
                }
            }
            other => other,
        })
    }

    /// Checks that this identity's own certificate names node `node` of `cluster`, so a
    /// node started with another node's files fails at start rather than at every peer.
    pub fn check_names(&self, cluster: &str, node: u32) -> Result<(), TlsError> {
        names_node(&self.chain[0], cluster, node).map_err(|e| match e {
            TlsError::Identity { expected, reason } => TlsError::Identity {
                expected,
                reason: format!("this node's own certificate: {reason}"),
            },
            other => other,
        })
    }

    /// Parses PEM text: the CA certificate, this node's chain and its private key.
    pub fn from_pem(ca: &str, cert: &str, key: &str) -> Result<Self, TlsError> {
        let bad = |what: &str, reason: String| TlsError::File {
            path: what.into(),
            reason,
        };
        let ca = CertificateDer::from_pem_slice(ca.as_bytes())
            .map_err(|e| bad("CA", format!("no certificate: {e}")))?;
        let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad("certificate", format!("bad PEM: {e}")))?;
        if chain.is_empty() {
            return Err(bad("certificate", "no certificate".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
            .map_err(|e| bad("key", format!("no private key: {e}")))?;
        Ok(Self { ca, chain, key })
    }
}

fn read_text(path: &Path) -> Result<String, TlsError> {
    std::fs::read_to_string(path).map_err(|e| TlsError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The name node `node` of `cluster` carries in its certificate.
pub fn node_name(cluster: &str, node: u32) -> String {
    format!("node{node}.{cluster}")
}

/// Checks that `cluster` makes valid certificate names.
pub fn check_cluster_name(cluster: &str) -> Result<(), TlsError> {
    let name = node_name(cluster, 1);
    ServerName::try_from(name.as_str())
        .map(|_| ())
        .map_err(|_| {
            TlsError::Config(format!(
                "cluster name {cluster:?} cannot be part of a DNS name ({name})"
            ))
        })
}

/// Transport settings for a datacenter (RUNTIME-NOTES §2.4): quinn's defaults assume the
/// internet. Raft detects dead peers with its own heartbeats; the idle timeout only reclaims
/// dead connections.
fn transport_config() -> TransportConfig {
    let mut t = TransportConfig::default();
    t.initial_rtt(Duration::from_millis(5))
        .stream_receive_window(VarInt::from_u32(16 << 20))
        .receive_window(VarInt::from_u32(64 << 20))
        .send_window(64 << 20)
        .keep_alive_interval(Some(Duration::from_secs(1)))
        .max_idle_timeout(Some(
            IdleTimeout::try_from(Duration::from_secs(10)).expect("10 s fits a varint"),
        ))
        .max_concurrent_uni_streams(VarInt::from_u32(64))
        .max_concurrent_bidi_streams(VarInt::from_u32(0));
    t
}

/// The QUIC configurations of one shard's endpoint.
pub struct QuicConfigs {
    /// Endpoint settings, with a stateless-reset key that survives restarts.
    pub endpoint: EndpointConfig,
    /// Accepting connections.
    pub server: quinn_proto::ServerConfig,
    /// Opening connections.
    pub client: quinn_proto::ClientConfig,
}

impl std::fmt::Debug for QuicConfigs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuicConfigs").finish_non_exhaustive()
    }
}

/// The QUIC configurations of shard `shard` of a node: TLS 1.3 only, client certificates
/// required and verified against the cluster CA, ALPN [`ALPN`], no early data.
///
/// The stateless-reset key is derived from the node's private key and the shard, so after
/// a restart the shard's new endpoint can reset its peers' connections to the old one at
/// once (they would otherwise wait for the idle timeout before reconnecting); the
/// connection-id key is derived the same way so those old packets are recognised as ours.
pub fn quic_configs(identity: &TlsIdentity, shard: u16) -> Result<QuicConfigs, TlsError> {
    let config = |e: String| TlsError::Config(e);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(identity.ca.clone())
        .map_err(|e| config(format!("CA certificate: {e}")))?;
    let roots = Arc::new(roots);
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()
    .map_err(|e| config(format!("client verifier: {e}")))?;
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(|e| config(format!("node certificate and key: {e}")))?;
    server.alpn_protocols = vec![ALPN.to_vec()];
    server.max_early_data_size = 0;
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| config(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(|e| config(format!("node certificate and key: {e}")))?;
    client.alpn_protocols = vec![ALPN.to_vec()];
    client.enable_early_data = false;

    let transport = Arc::new(transport_config());
    let server = QuicServerConfig::try_from(server).map_err(|e| config(e.to_string()))?;
    let mut server = quinn_proto::ServerConfig::with_crypto(Arc::new(server));
    server.transport_config(transport.clone());
    let client = QuicClientConfig::try_from(client).map_err(|e| config(e.to_string()))?;
    let mut client = quinn_proto::ClientConfig::new(Arc::new(client));
    client.transport_config(transport);
    let mut secret = ring::digest::Context::new(&ring::digest::SHA256);
    secret.update(b"shoal stateless reset v1");
    secret.update(identity.key.secret_der());
    secret.update(&shard.to_le_bytes());
    let secret = secret.finish();
    let reset_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_ref());
    let mut endpoint = EndpointConfig::new(Arc::new(reset_key));
    // Connection ids must validate across a restart too, or packets of the old life are
    // dropped as invalid before a reset can be sent.
    let cid_key = u64::from_le_bytes(secret.as_ref()[..8].try_into().expect("8 bytes"));
    endpoint.cid_generator(move || Box::new(HashedConnectionIdGenerator::from_key(cid_key)));
    Ok(QuicConfigs {
        endpoint,
        server,
        client,
    })
}

/// Checks that the certificate `conn`'s peer presented names node `node` of `cluster`.
pub fn verify_peer_node(
    conn: &quinn_proto::Connection,
    cluster: &str,
    node: u32,
) -> Result<(), TlsError> {
    let expected = node_name(cluster, node);
    let refuse = |reason: String| TlsError::Identity {
        expected: expected.clone(),
        reason,
    };
    let identity = conn
        .crypto_session()
        .peer_identity()
        .ok_or_else(|| refuse("no certificate presented".into()))?;
    let chain = identity
        .downcast::<Vec<CertificateDer<'static>>>()
        .map_err(|_| refuse("unexpected identity type".into()))?;
    let leaf = chain
        .first()
        .ok_or_else(|| refuse("empty certificate chain".into()))?;
    names_node(leaf, cluster, node)
}

/// Checks that certificate `leaf` is valid for node `node` of `cluster`.
fn names_node(leaf: &CertificateDer<'_>, cluster: &str, node: u32) -> Result<(), TlsError> {
    let expected = node_name(cluster, node);
    let refuse = |reason: String| TlsError::Identity {
        expected: expected.clone(),
        reason,
    };
    let cert = webpki::EndEntityCert::try_from(leaf).map_err(|e| refuse(e.to_string()))?;
    let name = ServerName::try_from(expected.as_str()).map_err(|e| refuse(e.to_string()))?;
    cert.verify_is_valid_for_subject_name(&name)
        .map_err(|e| refuse(e.to_string()))
}
