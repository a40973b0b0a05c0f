//! Development certificates: a cluster CA and one certificate per node, minted with rcgen.
//!
//! `shoal up` (through `shoal-node dev-certs`) writes them into the cluster directory so a
//! local cluster runs with the same mutual TLS as a real one; production clusters bring
//! their own CA and pass the files in the node configuration. A directory that already holds
//! a CA keeps it: new nodes get certificates from the same CA.
//!
//! Files: `ca.pem`, `ca.key`, `node-<ID>.pem`, `node-<ID>.key` (keys readable by the owner
//! only).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::tls::{TlsFiles, node_name};

/// A CA that can issue node certificates.
pub struct DevCa {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

impl std::fmt::Debug for DevCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCa").finish_non_exhaustive()
    }
}

/// A certificate and its private key, PEM encoded.
#[derive(Debug, Clone)]
pub struct CertPem {
    /// The certificate.
    pub cert: String,
    /// The private key (PKCS#8).
    pub key: String,
}

impl DevCa {
    /// Mints a new self-signed CA for `cluster`; also returns its key in PEM.
    pub fn mint(cluster: &str) -> Result<(Self, String), String> {
        let key = KeyPair::generate().map_err(|e| format!("CA key: {e}"))?;
        let params = ca_params(cluster)?;
        let cert = params.self_signed(&key).map_err(|e| format!("CA: {e}"))?;
        let key_pem = key.serialize_pem();
        Ok((
            Self {
                issuer: Issuer::new(params, key),
                cert_pem: cert.pem(),
            },
            key_pem,
        ))
    }

    /// The CA of `cluster` minted earlier, from its certificate and key in PEM. The issuer
    /// name is rebuilt from the cluster name (as `mint` made it), which spares parsing X.509.
    pub fn from_pem(cluster: &str, cert_pem: &str, key_pem: &str) -> Result<Self, String> {
        let key = KeyPair::from_pem(key_pem).map_err(|e| format!("CA key: {e}"))?;
        Ok(Self {
            issuer: Issuer::new(ca_params(cluster)?, key),
            cert_pem: cert_pem.to_string(),
        })
    }

    /// The CA certificate in PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues the certificate of node `node` of `cluster` (server and client use).
    pub fn issue_node(&self, cluster: &str, node: u32) -> Result<CertPem, String> {
        let name = node_name(cluster, node);
        let key = KeyPair::generate().map_err(|e| format!("node key: {e}"))?;
        let mut params =
            CertificateParams::new(vec![name.clone()]).map_err(|e| format!("{name}: {e}"))?;
        params
            .distinguished_name
            .push(DnType::CommonName, name.clone());
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| format!("{name}: {e}"))?;
        Ok(CertPem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }
}

fn ca_params(cluster: &str) -> Result<CertificateParams, String> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(
        DnType::CommonName,
        format!("Shoal development CA ({cluster})"),
    );
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

/// The files of node `node` inside a certificate directory.
pub fn node_files(dir: &Path, node: u32) -> TlsFiles {
    TlsFiles {
        ca_file: dir.join("ca.pem"),
        cert_file: dir.join(format!("node-{node}.pem")),
        key_file: dir.join(format!("node-{node}.key")),
    }
}

/// Makes sure `dir` holds a CA and a certificate for every node in `nodes`: keeps what
/// exists, mints what is missing. Returns the files written.
pub fn ensure_dev_certs(dir: &Path, cluster: &str, nodes: &[u32]) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let ca_cert = dir.join("ca.pem");
    let ca_key = dir.join("ca.key");
    let mut written = Vec::new();
    let ca = if ca_cert.exists() {
        let cert = read(&ca_cert)?;
        let key = read(&ca_key)?;
        DevCa::from_pem(cluster, &cert, &key)?
    } else {
        let (ca, key) = DevCa::mint(cluster)?;
        write_file(&ca_key, &key, true)?;
        write_file(&ca_cert, ca.cert_pem(), false)?;
        written.extend([ca_key, ca_cert]);
        ca
    };
    for &node in nodes {
        let files = node_files(dir, node);
        if files.cert_file.exists() && files.key_file.exists() {
            continue;
        }
        let pem = ca.issue_node(cluster, node)?;
        write_file(&files.key_file, &pem.key, true)?;
        write_file(&files.cert_file, &pem.cert, false)?;
        written.extend([files.key_file, files.cert_file]);
    }
    Ok(written)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))
}

fn write_file(path: &Path, text: &str, secret: bool) -> Result<(), String> {
    let mode = if secret { 0o600 } else { 0o644 };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("create {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("write {}: {e}", path.display()))
}
