//! AWS Signature Version 4 verification (dynamodb-semantics.md §3.4) against a credentials
//! file in AWS's own format (`[profile]` sections with `aws_access_key_id` and
//! `aws_secret_access_key`).
//!
//! Invariant: a request passes only if its `Authorization` header names a known access key,
//! its date is within [`CLOCK_SKEW_MAX`] of the server clock, the credential scope's date
//! matches it, `host` is signed, and the HMAC-SHA256 signature over the canonical request
//! (built from the actual body bytes) matches, compared in constant time. The clock is
//! passed in, so tests can pin it. Checks run in DynamoDB's order: header present, header
//! well formed, date window, access key, signature.
//! Does not support presigned query-string auth, session tokens or chunked payloads.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use shoal_wire::{Error, ErrorKind};

/// The largest accepted difference between the request date and the server clock.
pub const CLOCK_SKEW_MAX_S: i64 = 15 * 60;
/// [`CLOCK_SKEW_MAX_S`] as a duration.
pub const CLOCK_SKEW_MAX: std::time::Duration =
    std::time::Duration::from_secs(CLOCK_SKEW_MAX_S as u64);
/// Most access keys a credentials file may hold.
pub const CREDENTIALS_MAX: usize = 1024;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

type HmacSha256 = Hmac<Sha256>;

/// Most signing keys kept; the cache is emptied when it would grow past this (a key is
/// per access key, day, region and service, so a busy gateway holds a handful).
const SIGNING_KEYS_CACHED_MAX: usize = 4096;

/// Access key id → secret access key.
#[derive(Clone, Default)]
pub struct Credentials {
    secrets: HashMap<String, String>,
    /// Signing keys already derived, by "access key/date/region/service": SDKs derive one
    /// per day, and deriving it (four HMACs) was a third of a verification.
    signing_keys: Arc<Mutex<HashMap<String, [u8; 32]>>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        f.debug_struct("Credentials")
            .field("access_keys", &self.secrets.len())
            .finish()
    }
}

impl Credentials {
    /// Reads a credentials file.
    pub fn load(path: &std::path::Path) -> Result<Credentials, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read credentials file {}: {e}", path.display()))?;
        Credentials::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses AWS's credentials-file format: every section holding both keys adds one pair.
    pub fn parse(text: &str) -> Result<Credentials, String> {
        let mut secrets = HashMap::new();
        let mut section: (Option<String>, Option<String>) = (None, None);
        let mut finish = |section: &mut (Option<String>, Option<String>)| {
            if let (Some(id), Some(secret)) = (section.0.take(), section.1.take()) {
                secrets.insert(id, secret);
            }
            *section = (None, None);
        };
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.starts_with('[') {
                finish(&mut section);
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!("line {}: expected `key = value`", number + 1));
            };
            let value = value.trim().to_owned();
            match key.trim() {
                "aws_access_key_id" => section.0 = Some(value),
                "aws_secret_access_key" => section.1 = Some(value),
                _ => {}
            }
        }
        finish(&mut section);
        if secrets.is_empty() {
            return Err("no section has both aws_access_key_id and aws_secret_access_key".into());
        }
        if secrets.len() > CREDENTIALS_MAX {
            return Err(format!(
                "{} access keys exceed {CREDENTIALS_MAX}",
                secrets.len()
            ));
        }
        Ok(Credentials {
            secrets,
            signing_keys: Arc::default(),
        })
    }

    /// One access key.
    pub fn single(access_key_id: &str, secret: &str) -> Credentials {
        Credentials {
            secrets: HashMap::from([(access_key_id.to_owned(), secret.to_owned())]),
            signing_keys: Arc::default(),
        }
    }

    /// The credentials-file text for one access key (`[default]` profile).
    pub fn file_text(access_key_id: &str, secret: &str) -> String {
        format!(
            "[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret}\n"
        )
    }
}

/// The parts of an HTTP request a signature covers.
#[derive(Debug)]
pub struct SignedRequest<'a> {
    /// `POST`.
    pub method: &'a str,
    /// The path as sent (`/`).
    pub path: &'a str,
    /// The query string as sent, without `?` (empty for DynamoDB).
    pub query: &'a str,
    /// Every header, names in any case, repeated names allowed.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body bytes as received.
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// The fields of an `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
struct Authorization<'a> {
    access_key_id: &'a str,
    scope_date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn incomplete(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::IncompleteSignature, message)
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidSignature, message)
}

fn parse_authorization(header: &str) -> Result<Authorization<'_>, Error> {
    let rest = header
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| {
            incomplete(format!(
                "Authorization header requires the {ALGORITHM} algorithm"
            ))
        })?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let missing = |name: &str| {
        incomplete(format!(
            "Authorization header requires '{name}' parameter. Authorization={header}"
        ))
    };
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed = signed.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, scope_date, region, service, "aws4_request"] = scope[..] else {
        return Err(incomplete(format!(
            "Credential should be scoped to a valid region, a service and a terminal \
             'aws4_request'. Credential={credential}"
        )));
    };
    Ok(Authorization {
        access_key_id,
        scope_date,
        region,
        service,
        signed_headers: signed.split(';').collect(),
        signature,
    })
}

/// Verifies a request's signature; `now_s` is the server clock in Unix seconds.
pub fn verify(credentials: &Credentials, request: &SignedRequest, now_s: i64) -> Result<(), Error> {
    let Some(header) = request.header("authorization") else {
        return Err(Error::new(
            ErrorKind::MissingAuthenticationToken,
            "Request must contain a valid (registered) AWS access key ID",
        ));
    };
    let auth = parse_authorization(header)?;
    let amz_date = request.header("x-amz-date").ok_or_else(|| {
        incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' \
             header.",
        )
    })?;
    let date_s = parse_amz_date(amz_date).ok_or_else(|| {
        incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{amz_date}'"
        ))
    })?;
    check_window(amz_date, date_s, now_s)?;
    if auth.scope_date != &amz_date[..8] {
        return Err(invalid(format!(
            "Credential should be scoped to a valid date: the scope date {} does not match \
             the request date {}",
            auth.scope_date,
            &amz_date[..8]
        )));
    }
    let Some(secret) = credentials.secrets.get(auth.access_key_id) else {
        return Err(Error::new(
            ErrorKind::UnrecognizedClient,
            "The security token included in the request is invalid.",
        ));
    };
    if !auth.signed_headers.contains(&"host") {
        return Err(invalid(
            "'Host' must be a signed header. The request signature we calculated does not \
             match the signature you provided.",
        ));
    }
    let canonical = canonical_request(request, &auth.signed_headers);
    let key = credentials.signing_key(&auth, secret);
    let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length");
    // The string to sign, fed to the MAC in pieces.
    for piece in [
        ALGORITHM,
        "\n",
        amz_date,
        "\n",
        auth.scope_date,
        "/",
        auth.region,
        "/",
        auth.service,
        "/aws4_request\n",
    ] {
        mac.update(piece.as_bytes());
    }
    mac.update(&hex32(&Sha256::digest(canonical.as_bytes()).into()));
    let provided = unhex(auth.signature).unwrap_or_default();
    mac.verify_slice(&provided).map_err(|_| {
        invalid(
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service \
             documentation for details.",
        )
    })
}

fn check_window(amz_date: &str, date_s: i64, now_s: i64) -> Result<(), Error> {
    if date_s < now_s - CLOCK_SKEW_MAX_S {
        return Err(invalid(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            format_amz_date(now_s - CLOCK_SKEW_MAX_S),
            format_amz_date(now_s)
        )));
    }
    if date_s > now_s + CLOCK_SKEW_MAX_S {
        return Err(invalid(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            format_amz_date(now_s + CLOCK_SKEW_MAX_S),
            format_amz_date(now_s)
        )));
    }
    Ok(())
}

/// The canonical request of SigV4 over the signed headers.
fn canonical_request(request: &SignedRequest, signed: &[&str]) -> String {
    let mut text = String::with_capacity(512);
    text.push_str(request.method);
    text.push('\n');
    text.push_str(if request.path.is_empty() {
        "/"
    } else {
        request.path
    });
    text.push('\n');
    if !request.query.is_empty() {
        let mut query: Vec<&str> = request.query.split('&').filter(|p| !p.is_empty()).collect();
        query.sort_unstable();
        text.push_str(&query.join("&"));
    }
    text.push('\n');
    for name in signed {
        for c in name.chars() {
            text.push(c.to_ascii_lowercase());
        }
        text.push(':');
        let values = request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name));
        for (i, (_, value)) in values.enumerate() {
            if i > 0 {
                text.push(',');
            }
            push_collapsed(&mut text, value);
        }
        text.push('\n');
    }
    text.push('\n');
    for (i, name) in signed.iter().enumerate() {
        if i > 0 {
            text.push(';');
        }
        text.push_str(name);
    }
    text.push('\n');
    let body_hash = hex32(&Sha256::digest(request.body).into());
    text.push_str(std::str::from_utf8(&body_hash).expect("hex digits are ASCII"));
    text
}

/// Appends a header value trimmed, with runs of whitespace inside it collapsed to one space.
fn push_collapsed(text: &mut String, value: &str) {
    for (i, word) in value.split_whitespace().enumerate() {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(word);
    }
}

fn hmac(key: &[u8], data: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().into()
}

impl Credentials {
    /// The signing key of `auth`'s scope, derived once and then taken from the cache.
    fn signing_key(&self, auth: &Authorization, secret: &str) -> [u8; 32] {
        let mut id = String::with_capacity(96);
        let _ = write!(
            id,
            "{}/{}/{}/{}",
            auth.access_key_id, auth.scope_date, auth.region, auth.service
        );
        let mut keys = self.signing_keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(key) = keys.get(&id) {
            return *key;
        }
        let key = signing_key(secret, auth.scope_date, auth.region, auth.service);
        if keys.len() >= SIGNING_KEYS_CACHED_MAX {
            keys.clear();
        }
        keys.insert(id, key);
        key
    }
}

/// Lowercase hex digits of one byte.
fn hex_pair(b: u8) -> [u8; 2] {
    // Per request this runs on every hash; a table lookup keeps it off the profile.
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]]
}

/// Lowercase hex of a SHA-256, on the stack.
fn hex32(bytes: &[u8; 32]) -> [u8; 64] {
    let mut text = [0u8; 64];
    for (pair, b) in text.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&hex_pair(*b));
    }
    text
}

/// The signing key: HMAC chain over `"AWS4" + secret`, date, region, service, terminator.
/// Clients derive it once per day (the load generator does).
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date);
    let k_region = hmac(&k_date, region);
    let k_service = hmac(&k_region, service);
    hmac(&k_service, "aws4_request")
}

/// Lowercase hex, as SigV4 writes hashes and signatures.
pub fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let [high, low] = hex_pair(*b);
        text.push(char::from(high));
        text.push(char::from(low));
    }
    text
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `YYYYMMDDTHHMMSSZ` → Unix seconds.
pub fn parse_amz_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    // ASCII first: the slices below must fall on character boundaries.
    if !text.is_ascii() || b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = &text[range];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (year, month, day) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
    let (hour, minute, second) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && hour < 24
        && minute < 60
        && second < 61;
    valid.then(|| days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Unix seconds → `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(unix_s: i64) -> String {
    let days = unix_s.div_euclid(86_400);
    let secs = unix_s.rem_euclid(86_400);
    // Inverse of days_from_civil (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Signs a request the way an AWS SDK does (tests and the load generator use it).
pub fn sign(
    access_key_id: &str,
    secret: &str,
    region: &str,
    request: &SignedRequest,
    signed: &[&str],
) -> String {
    let amz_date = request.header("x-amz-date").unwrap_or_default();
    let date = amz_date.get(..8).unwrap_or_default();
    let canonical = canonical_request(request, signed);
    let scope = format!("{date}/{region}/dynamodb/aws4_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let signature = hex(&hmac(
        &signing_key(secret, date, region, "dynamodb"),
        &string_to_sign,
    ));
    format!(
        "{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={}, Signature={signature}",
        signed.join(";")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published SigV4 test suite uses this key pair, date and host.
    const KEY_ID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const DATE: &str = "20150830T123600Z";

    fn check(method: &str, headers: &[(&str, &str)], now_s: i64) -> Result<(), Error> {
        let request = SignedRequest {
            method,
            path: "/",
            query: "",
            headers,
            body: b"",
        };
        verify(&Credentials::single(KEY_ID, SECRET), &request, now_s)
    }

    fn now() -> i64 {
        parse_amz_date(DATE).unwrap()
    }

    /// The Authorization header of AWS's get-vanilla / post-vanilla cases.
    fn vanilla_auth(signature: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential={KEY_ID}/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature={signature}"
        )
    }

    #[test]
    fn signing_key_matches_aws_documentation() {
        // "Examples of how to derive a signing key for Signature Version 4" (IAM, 20120215).
        let key = signing_key(SECRET, "20120215", "us-east-1", "iam");
        assert_eq!(
            hex(&key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn aws_test_suite_get_and_post_vanilla() {
        let cases = [
            (
                "GET",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                "POST",
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            ),
        ];
        for (method, signature) in cases {
            let auth = vanilla_auth(signature);
            let headers = [
                ("Host", "example.amazonaws.com"),
                ("X-Amz-Date", DATE),
                ("Authorization", auth.as_str()),
            ];
            check(method, &headers, now()).unwrap();
            // Proxies may change header case and add spaces (§3.4 step 7).
            let loose = [
                ("host", "  example.amazonaws.com "),
                ("x-amz-date", DATE),
                ("authorization", auth.as_str()),
            ];
            check(method, &loose, now()).unwrap();
            let wrong = auth.replace(&signature[..4], "0000");
            let headers = [
                ("Host", "example.amazonaws.com"),
                ("X-Amz-Date", DATE),
                ("Authorization", wrong.as_str()),
            ];
            let error = check(method, &headers, now()).unwrap_err();
            assert_eq!(error.kind, ErrorKind::InvalidSignature);
        }
    }

    #[test]
    fn one_cached_signing_key_verifies_every_request_of_its_scope() {
        let credentials = Credentials::single(KEY_ID, SECRET);
        let verify_with = |method, signature: &str| {
            let auth = vanilla_auth(signature);
            let headers = [
                ("Host", "example.amazonaws.com"),
                ("X-Amz-Date", DATE),
                ("Authorization", auth.as_str()),
            ];
            let request = SignedRequest {
                method,
                path: "/",
                query: "",
                headers: &headers,
                body: b"",
            };
            verify(&credentials, &request, now())
        };
        let get = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let post = "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b";
        verify_with("GET", get).unwrap();
        // From the cache now: still right for another request, still wrong for a bad one.
        verify_with("POST", post).unwrap();
        let error = verify_with("POST", get).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidSignature);
        verify_with("GET", get).unwrap();
        assert_eq!(credentials.signing_keys.lock().unwrap().len(), 1);
    }

    #[test]
    fn failures_in_dynamodb_order() {
        let missing = check("POST", &[("Host", "h"), ("X-Amz-Date", DATE)], now()).unwrap_err();
        assert_eq!(missing.kind, ErrorKind::MissingAuthenticationToken);
        let stranger = "AWS4-HMAC-SHA256 Credential=NOBODY/20150830/us-east-1/dynamodb/\
                        aws4_request, SignedHeaders=host;x-amz-date, Signature=00";
        let headers = [
            ("Host", "h"),
            ("X-Amz-Date", DATE),
            ("Authorization", stranger),
        ];
        let unknown = check("POST", &headers, now()).unwrap_err();
        assert_eq!(unknown.kind, ErrorKind::UnrecognizedClient);
        // The date window is checked before the key: an old date wins over a bogus key.
        let late = check("POST", &headers, now() + CLOCK_SKEW_MAX_S + 1).unwrap_err();
        assert_eq!(late.kind, ErrorKind::InvalidSignature);
        assert!(
            late.message.starts_with(
                "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z"
            ),
            "{}",
            late.message
        );
        let early = check("POST", &headers, now() - CLOCK_SKEW_MAX_S - 1).unwrap_err();
        assert!(
            early.message.starts_with("Signature not yet current"),
            "{}",
            early.message
        );
        check("POST", &headers, now() + CLOCK_SKEW_MAX_S).unwrap_err();
        let incomplete = [
            ("Host", "h"),
            ("X-Amz-Date", DATE),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=x"),
        ];
        let error = check("POST", &incomplete, now()).unwrap_err();
        assert_eq!(error.kind, ErrorKind::IncompleteSignature);
    }

    #[test]
    fn sign_and_verify_round_trip_with_a_body() {
        let body = br#"{"TableName":"t"}"#;
        let mut headers = vec![
            ("host", "127.0.0.1:8000"),
            ("x-amz-date", DATE),
            ("x-amz-target", "DynamoDB_20120810.DescribeTable"),
        ];
        let request = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body,
        };
        let auth = sign(
            KEY_ID,
            SECRET,
            "us-east-1",
            &request,
            &["host", "x-amz-date", "x-amz-target"],
        );
        headers.push(("authorization", &auth));
        let request = SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body,
        };
        let credentials = Credentials::single(KEY_ID, SECRET);
        verify(&credentials, &request, now()).unwrap();
        let tampered = SignedRequest {
            body: br#"{"TableName":"u"}"#,
            ..request
        };
        assert_eq!(
            verify(&credentials, &tampered, now()).unwrap_err().kind,
            ErrorKind::InvalidSignature
        );
    }

    #[test]
    fn dates_convert_both_ways() {
        for text in [
            "19700101T000000Z",
            "20150830T123600Z",
            "20000229T235959Z",
            "21000301T000000Z",
        ] {
            assert_eq!(format_amz_date(parse_amz_date(text).unwrap()), text);
        }
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        for bad in [
            "",
            "2015-08-30T12:36:00Z",
            "20151330T123600Z",
            "2015083OT123600Z",
            "20150830T123600ZZ",
            "201\u{e9}508T123600Z",
            "20150830T1\u{e9}300Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn credentials_file_has_aws_format() {
        let text = "# comment\n[default]\naws_access_key_id = A1\naws_secret_access_key=S1\n\
                    region = us-east-1\n[other]\naws_access_key_id=A2\naws_secret_access_key = S2\n";
        let credentials = Credentials::parse(text).unwrap();
        assert_eq!(credentials.secrets.len(), 2);
        assert_eq!(credentials.secrets["A2"], "S2");
        assert!(Credentials::parse("[default]\nregion = x\n").is_err());
        assert!(Credentials::parse("garbage").is_err());
        assert_eq!(
            Credentials::parse(&Credentials::file_text("K", "S"))
                .unwrap()
                .secrets["K"],
            "S"
        );
        assert!(!format!("{credentials:?}").contains("S1"));
    }
}
