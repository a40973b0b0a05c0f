//! The `dynamodb+http://HOST:PORT` target: any DynamoDB-compatible endpoint (Shoal's gateway,
//! dynalite, moto) over plain HTTP/1.1 with keep-alive, one connection per load task, each
//! request signed with AWS Signature Version 4 from `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY` (optionally `AWS_SESSION_TOKEN`) and `AWS_REGION` (default
//! us-east-1).
//!
//! Items have DynamoDB's JSON shape: `pk` (S), `sk` (N), `v` (S, the run's value), laid out
//! as the Shoal target lays them out, so the two measure the same work.
//! Invariant: a non-200 status is an error carrying DynamoDB's `__type` and message; a
//! broken connection is replaced on the next operation (HTTP itself: `http`).
//! Does not do TLS or retries.

use std::fmt::Write as _;

use super::http::Http;
use super::{Found, Layout, OpError};
use crate::workload::OpKind;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shoal_router::gateway::sigv4::{self, hex};

/// Longest wait for a created table to become ACTIVE, in polls of `TABLE_POLL`.
const TABLE_POLLS_MAX: u32 = 300;
const TABLE_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Signing credentials, from the environment.
#[derive(Clone)]
pub struct Credentials {
    access_key: String,
    secret_key: String,
    session_token: Option<String>,
    region: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .finish()
    }
}

impl Credentials {
    /// Reads the usual AWS variables.
    pub fn from_env() -> Result<Credentials, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (Some(access_key), Some(secret_key)) =
            (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
        else {
            return Err(
                "dynamodb+http:// signs requests: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    .into(),
            );
        };
        let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"));
        Ok(Credentials {
            access_key,
            secret_key,
            session_token: var("AWS_SESSION_TOKEN"),
            region: region.unwrap_or_else(|| "us-east-1".into()),
        })
    }
}

/// Where and as whom.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: String,
    pub credentials: Credentials,
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().into()
}

/// SigV4's signing key of one day (`date` is `YYYYMMDD`): four HMACs an SDK computes once
/// per day, not per request.
#[derive(Clone)]
pub struct SigningKey {
    date: String,
    key: [u8; 32],
}

impl SigningKey {
    /// The key of `credentials` for `date`.
    pub fn derive(credentials: &Credentials, date: &str) -> SigningKey {
        let (secret, region) = (&credentials.secret_key, &credentials.region);
        SigningKey {
            date: date.to_owned(),
            key: sigv4::signing_key(secret, date, region, "dynamodb"),
        }
    }
}

/// `YYYYMMDD'T'HHMMSS'Z'` of a Unix time (proleptic Gregorian, UTC).
pub fn amz_date(unix_s: u64) -> String {
    let days = (unix_s / 86_400) as i64;
    let secs = unix_s % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    format!("{year:04}{month:02}{day:02}T{h:02}{m:02}{s:02}Z")
}

/// The headers of one signed POST of `body` with `X-Amz-Target: target`.
pub fn signed_headers(
    credentials: &Credentials,
    key: &SigningKey,
    host: &str,
    target: &str,
    body: &[u8],
    amz_date: &str,
) -> Vec<(String, String)> {
    let date = &amz_date[..8];
    debug_assert_eq!(key.date, date, "signing key of another day");
    let content_type = "application/x-amz-json-1.0";
    let mut headers: Vec<(String, String)> = vec![
        ("content-type".into(), content_type.into()),
        ("host".into(), host.into()),
        ("x-amz-date".into(), amz_date.into()),
        ("x-amz-target".into(), target.into()),
    ];
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token".into(), token.clone()));
    }
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let payload_hash = hex(&Sha256::digest(body));
    let canonical = format!("POST\n/\n\n{canonical_headers}\n{signed}\n{payload_hash}");
    let scope = format!("{date}/{}/dynamodb/aws4_request", credentials.region);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let signature = hex(&hmac(&key.key, &to_sign));
    headers.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            credentials.access_key
        ),
    ));
    headers
}

/// One task's connection (also used once to create the table).
pub struct DynamoSession {
    endpoint: Endpoint,
    conn: Option<Http>,
    layout: Layout,
    /// The signing key of the last request's day.
    key: Option<SigningKey>,
}

impl DynamoSession {
    /// Connects one task.
    pub async fn connect(endpoint: &Endpoint, layout: Layout) -> Result<DynamoSession, String> {
        let conn = Http::connect(&endpoint.addr)
            .await
            .map_err(|e| format!("connect to {}: {e}", endpoint.addr))?;
        Ok(DynamoSession {
            endpoint: endpoint.clone(),
            conn: Some(conn),
            layout,
            key: None,
        })
    }

    /// Calls `operation` with `body`; Ok(response JSON) on HTTP 200.
    async fn call(&mut self, operation: &str, body: &Value) -> Result<Value, OpError> {
        let body = serde_json::to_vec(body).expect("JSON values serialise");
        let target = format!("DynamoDB_20120810.{operation}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let amz_date = amz_date(now);
        let credentials = &self.endpoint.credentials;
        let key = match self.key.take() {
            Some(key) if key.date == amz_date[..8] => key,
            _ => SigningKey::derive(credentials, &amz_date[..8]),
        };
        let headers = signed_headers(
            credentials,
            &key,
            &self.endpoint.addr,
            &target,
            &body,
            &amz_date,
        );
        self.key = Some(key);
        let mut head = String::with_capacity(512);
        head.push_str("POST / HTTP/1.1\r\n");
        for (name, value) in &headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        let _ = write!(head, "content-length: {}\r\n\r\n", body.len());
        if self.conn.is_none() {
            let conn = Http::connect(&self.endpoint.addr).await;
            self.conn = Some(conn.map_err(|e| OpError(format!("reconnect: {e}")))?);
        }
        let conn = self.conn.as_mut().expect("connected just above");
        let (status, response) = match conn.post(&head, &body).await {
            Ok(reply) => reply,
            Err(e) => {
                self.conn = None;
                return Err(OpError(e.to_string()));
            }
        };
        if !conn.reusable() {
            self.conn = None;
        }
        let value: Value = serde_json::from_slice(&response).unwrap_or(Value::Null);
        if status != 200 {
            let kind = value["__type"]
                .as_str()
                .unwrap_or("")
                .rsplit('#')
                .next()
                .unwrap_or("");
            let message = value["message"]
                .as_str()
                .or(value["Message"].as_str())
                .unwrap_or("");
            return Err(OpError(format!("HTTP {status} {kind}: {message}")));
        }
        Ok(value)
    }

    fn partition_key(&self, partition: u64) -> String {
        format!("{}-p{partition:010}", self.layout.table)
    }

    fn key(&self, record: u64) -> Value {
        let pk = self.partition_key(record / self.layout.items_per_partition);
        json!({"pk": {"S": pk}, "sk": {"N": record.to_string()}})
    }

    /// Creates the table if missing and waits until it is ACTIVE.
    pub async fn prepare(&mut self) -> Result<(), String> {
        let table = self.layout.table.clone();
        let create = json!({
            "TableName": table,
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"}
            ],
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"}
            ],
            "BillingMode": "PAY_PER_REQUEST"
        });
        match self.call("CreateTable", &create).await {
            Ok(_) => {}
            Err(OpError(e)) if e.contains("ResourceInUseException") => {}
            Err(OpError(e)) => return Err(format!("create table {table}: {e}")),
        }
        for _ in 0..TABLE_POLLS_MAX {
            let described = self
                .call("DescribeTable", &json!({"TableName": table}))
                .await;
            let described = described.map_err(|OpError(e)| format!("describe {table}: {e}"))?;
            if described["Table"]["TableStatus"] == "ACTIVE" {
                return Ok(());
            }
            tokio::time::sleep(TABLE_POLL).await;
        }
        Err(format!(
            "table {table} not ACTIVE after {TABLE_POLLS_MAX} polls"
        ))
    }

    /// Executes one operation.
    pub async fn execute(
        &mut self,
        kind: OpKind,
        record: u64,
        length: u64,
    ) -> Result<Found, OpError> {
        match kind {
            OpKind::Read => self.read(record).await,
            OpKind::Update | OpKind::Insert => self.write(record).await,
            OpKind::Rmw => {
                self.read(record).await?;
                self.write(record).await
            }
            OpKind::Scan => {
                let per = self.layout.items_per_partition;
                let end = record + length.max(1);
                let mut read = 0;
                // Bounded: one query per partition covering record..end.
                for partition in record / per..=(end - 1) / per {
                    let from = record.max(partition * per);
                    let to = end.min((partition + 1) * per);
                    read += self.query(partition, from, to - from).await?;
                }
                Ok(if read > 0 { Found::Yes } else { Found::No })
            }
            OpKind::Query => {
                let from = record * self.layout.items_per_partition;
                let n = self
                    .query(record, from, u64::from(self.layout.page_size))
                    .await?;
                Ok(if n > 0 { Found::Yes } else { Found::No })
            }
        }
    }

    async fn read(&mut self, record: u64) -> Result<Found, OpError> {
        let body = json!({
            "TableName": self.layout.table,
            "Key": self.key(record),
            "ConsistentRead": self.layout.consistent
        });
        let got = self.call("GetItem", &body).await?;
        Ok(if got.get("Item").is_some_and(Value::is_object) {
            Found::Yes
        } else {
            Found::No
        })
    }

    async fn write(&mut self, record: u64) -> Result<Found, OpError> {
        let mut item = self.key(record);
        let value = String::from_utf8_lossy(&self.layout.value).into_owned();
        item["v"] = json!({"S": value});
        self.call(
            "PutItem",
            &json!({"TableName": self.layout.table, "Item": item}),
        )
        .await?;
        Ok(Found::Yes)
    }

    async fn query(&mut self, partition: u64, from: u64, limit: u64) -> Result<u64, OpError> {
        let body = json!({
            "TableName": self.layout.table,
            "KeyConditionExpression": "pk = :p AND sk >= :s",
            "ExpressionAttributeValues": {
                ":p": {"S": self.partition_key(partition)},
                ":s": {"N": from.to_string()}
            },
            "Limit": limit,
            "ConsistentRead": self.layout.consistent
        });
        let page = self.call("Query", &body).await?;
        Ok(page["Count"].as_u64().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_as_amz_dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(951_782_400), "20000229T000000Z");
    }

    #[test]
    fn signature_matches_the_aws_example() {
        // AWS's SigV4 documentation example key, signing a DynamoDB ListTables request.
        let credentials = Credentials {
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
            region: "us-east-1".into(),
        };
        let key = SigningKey::derive(&credentials, "20150830");
        let headers = signed_headers(
            &credentials,
            &key,
            "dynamodb.us-east-1.amazonaws.com",
            "DynamoDB_20120810.ListTables",
            b"{}",
            "20150830T123600Z",
        );
        let auth = &headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .unwrap()
            .1;
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/dynamodb/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
        ));
        assert_eq!(auth.rsplit('=').next().unwrap().len(), 64);
    }

    #[test]
    fn the_gateway_accepts_the_signature_with_a_cached_key_and_refuses_another_secret() {
        use shoal_router::gateway::sigv4::SignedRequest;
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let credentials = Credentials {
            access_key: "AKIDEXAMPLE".into(),
            secret_key: secret.into(),
            session_token: None,
            region: "eu-west-1".into(),
        };
        let now = 1_440_938_160;
        let date = amz_date(now);
        let key = SigningKey::derive(&credentials, &date[..8]);
        // The same key signs two requests of that day.
        for body in [
            &br#"{"TableName":"t"}"#[..],
            br#"{"TableName":"u","Limit":3}"#,
        ] {
            let headers = signed_headers(
                &credentials,
                &key,
                "127.0.0.1:8000",
                "DynamoDB_20120810.Query",
                body,
                &date,
            );
            let pairs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let request = SignedRequest {
                method: "POST",
                path: "/",
                query: "",
                headers: &pairs,
                body,
            };
            let at = now as i64;
            sigv4::verify(
                &sigv4::Credentials::single("AKIDEXAMPLE", secret),
                &request,
                at,
            )
            .expect("the gateway accepts the signature");
            let other = sigv4::Credentials::single("AKIDEXAMPLE", "another secret");
            assert!(sigv4::verify(&other, &request, at).is_err());
        }
    }
}
