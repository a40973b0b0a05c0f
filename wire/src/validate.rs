//! Validation of values, items, keys and names with DynamoDB's error categories and messages
//! (dynamodb-semantics.md §1.1, §1.2, §1.4, §1.5, §2.1, §2.3, §11).
//!
//! Invariant: a check either passes or returns the first violation as an [`Error`] whose kind
//! and wording are DynamoDB's (test suites match on the wording, some exactly, so where
//! DynamoDB's text is fixed it is kept verbatim rather than extended with the offending value;
//! where DynamoDB's message names the limit, so does ours); nothing here mutates.
//! Values are checked before anything recurses over them without a bound (sizes, key
//! encoding), and the nesting check stops recursion at [`DOCUMENT_DEPTH_MAX`].
//! Does not evaluate expressions or check whole requests (which parameters go together):
//! the expression module and the node's request validation do, using these helpers.

use std::collections::BTreeMap;

use crate::error::Error;
use crate::limits::{
    ATTRIBUTE_NAME_SIZE_MAX, DOCUMENT_DEPTH_MAX, ITEM_SIZE_MAX, PARTITION_KEY_SIZE_MAX,
    SORT_KEY_SIZE_MAX, TABLE_ARN_SIZE_MAX, TABLE_NAME_SIZE_MAX, TABLE_NAME_SIZE_MIN,
};
use crate::number::echo;
use crate::schema::{KeyAttribute, KeySchema, KeyType, ScalarType};
use crate::value::{AttributeValue, Item, item_size};

/// Prefix of most value errors.
const INVALID: &str = "One or more parameter values were invalid:";

/// Checks an attribute name: 1..=65535 UTF-8 bytes.
pub fn validate_attribute_name(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::validation(format!("{INVALID} Empty attribute name")));
    }
    if name.len() > ATTRIBUTE_NAME_SIZE_MAX as usize {
        return Err(Error::validation(format!(
            "{INVALID} Attribute name is too large, must be less than {} bytes; length: {}",
            ATTRIBUTE_NAME_SIZE_MAX + 1,
            name.len()
        )));
    }
    Ok(())
}

/// Checks one value found at document `level` (a top-level attribute's value is level 2):
/// non-empty duplicate-free sets, nesting within [`DOCUMENT_DEPTH_MAX`], valid map keys.
/// Numbers are valid by construction.
pub fn validate_value(value: &AttributeValue, level: u32) -> Result<(), Error> {
    match value {
        AttributeValue::Ss(set) => check_set(set, "An string set  may not be empty", |dups| {
            let shown: Vec<&str> = dups.iter().map(|s| s.as_str()).collect();
            format!(
                "Input collection [{}] contains duplicates.",
                shown.join(", ")
            )
        }),
        AttributeValue::Ns(set) => check_set(set, "An number set  may not be empty", |_| {
            "Input collection contains duplicates".to_owned()
        }),
        AttributeValue::Bs(set) => check_set(set, "Binary sets should not be empty", |dups| {
            let shown: Vec<String> = dups.iter().map(|b| base64(b)).collect();
            format!(
                "Input collection [{}]of type BS contains duplicates.",
                shown.join(", ")
            )
        }),
        AttributeValue::M(map) => {
            check_level(level)?;
            map.iter().try_for_each(|(name, child)| {
                validate_attribute_name(name)?;
                validate_value(child, level + 1)
            })
        }
        AttributeValue::L(list) => {
            check_level(level)?;
            list.iter()
                .try_for_each(|child| validate_value(child, level + 1))
        }
        _ => Ok(()),
    }
}

fn check_level(level: u32) -> Result<(), Error> {
    if level > DOCUMENT_DEPTH_MAX {
        return Err(Error::validation(
            "Nesting Levels have exceeded supported limits: Attributes in the item have nested \
             levels beyond supported limit",
        ));
    }
    Ok(())
}

/// Checks a set: non-empty, no duplicates (compared by value: numbers numerically).
fn check_set<T: Ord>(
    set: &[T],
    empty_message: &str,
    duplicates_message: impl FnOnce(Vec<&T>) -> String,
) -> Result<(), Error> {
    if set.is_empty() {
        return Err(Error::validation(format!("{INVALID} {empty_message}")));
    }
    let mut sorted: Vec<&T> = set.iter().collect();
    sorted.sort_unstable();
    if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
        let shown = vec![pair[0], pair[1]];
        return Err(Error::validation(format!(
            "{INVALID} {}",
            duplicates_message(shown)
        )));
    }
    Ok(())
}

/// Checks every attribute of an item: names and values (§1.1, §1.2, §1.5).
pub fn validate_attributes(item: &Item) -> Result<(), Error> {
    item.iter().try_for_each(|(name, value)| {
        validate_attribute_name(name)?;
        validate_value(value, 2)
    })
}

/// Checks a full item for PutItem (and BatchWriteItem puts, transaction puts): valid
/// attributes, every table key attribute present with its declared type and within key
/// limits, index key attributes (when present) valid, and the item within
/// [`ITEM_SIZE_MAX`].
pub fn validate_item(item: &Item, schema: &KeySchema, indexes: &[IndexKeys]) -> Result<(), Error> {
    validate_attributes(item)?;
    for (attribute, role) in key_roles(schema) {
        let value = item.get(&attribute.name).ok_or_else(|| {
            Error::validation(format!(
                "{INVALID} Missing the key {} in the item",
                attribute.name
            ))
        })?;
        validate_key_value(attribute, role, value)?;
    }
    validate_index_keys(item, indexes)?;
    validate_item_size(item, false)
}

/// Checks an item's size against [`ITEM_SIZE_MAX`]. `update` picks UpdateItem's wording.
pub fn validate_item_size(item: &Item, update: bool) -> Result<(), Error> {
    let size = item_size(item);
    if size > u64::from(ITEM_SIZE_MAX) {
        let what = if update {
            "Item size to update"
        } else {
            "Item size"
        };
        return Err(Error::validation(format!(
            "{what} has exceeded the maximum allowed size"
        )));
    }
    Ok(())
}

/// Checks a `Key` (GetItem, UpdateItem, DeleteItem, batch and transaction keys,
/// `ExclusiveStartKey` of tables): exactly the key attributes, declared types, non-empty,
/// within key limits.
pub fn validate_key(key: &Item, schema: &KeySchema) -> Result<(), Error> {
    let expected = key_roles(schema).count();
    let all_present = key_roles(schema).all(|(attribute, _)| key.contains_key(&attribute.name));
    if key.len() != expected || !all_present {
        return Err(Error::validation(
            "The provided key element does not match the schema",
        ));
    }
    for (attribute, role) in key_roles(schema) {
        let value = key.get(&attribute.name).expect("presence checked above");
        validate_key_value(attribute, role, value)?;
    }
    Ok(())
}

/// Checks one table key value: declared scalar type, non-empty, within the size limit of its
/// role (partition 2048 bytes, sort 1024 bytes).
pub fn validate_key_value(
    attribute: &KeyAttribute,
    role: KeyType,
    value: &AttributeValue,
) -> Result<(), Error> {
    if scalar_type_of(value) != Some(attribute.scalar_type) {
        return Err(Error::validation(format!(
            "{INVALID} Type mismatch for key {} expected: {} actual: {}",
            attribute.name,
            attribute.scalar_type,
            value.type_name()
        )));
    }
    let size = key_value_size(value);
    if size == 0 {
        let kind = if attribute.scalar_type == ScalarType::B {
            "binary"
        } else {
            "string"
        };
        return Err(Error::validation(format!(
            "One or more parameter values are not valid. The AttributeValue for a key attribute \
             cannot contain an empty {kind} value. Key: {}",
            attribute.name
        )));
    }
    check_key_size(role, size)
}

fn check_key_size(role: KeyType, size: usize) -> Result<(), Error> {
    match role {
        KeyType::Hash if size > PARTITION_KEY_SIZE_MAX as usize => Err(Error::validation(format!(
            "{INVALID} Size of hashkey has exceeded the maximum size limit of\
                 {PARTITION_KEY_SIZE_MAX} bytes"
        ))),
        KeyType::Range if size > SORT_KEY_SIZE_MAX as usize => Err(Error::validation(format!(
            "{INVALID} Aggregated size of all range keys has exceeded the size limit of \
             {SORT_KEY_SIZE_MAX} bytes"
        ))),
        _ => Ok(()),
    }
}

/// The key attributes a secondary index adds to the items it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexKeys {
    /// Index name, for messages.
    pub index_name: String,
    /// Key attributes with their roles (a multi-attribute GSI key has several of each).
    pub attributes: Vec<(KeyAttribute, KeyType)>,
}

/// Checks index key attributes present in an item (§11): declared type, non-empty, within key
/// limits. Missing attributes are fine (sparse indexes).
pub fn validate_index_keys(item: &Item, indexes: &[IndexKeys]) -> Result<(), Error> {
    for index in indexes {
        for (attribute, role) in &index.attributes {
            let Some(value) = item.get(&attribute.name) else {
                continue;
            };
            if scalar_type_of(value) != Some(attribute.scalar_type) {
                return Err(Error::validation(format!(
                    "{INVALID} Type mismatch for Index Key {} Expected: {} Actual: {} \
                     IndexName: {}",
                    attribute.name,
                    attribute.scalar_type,
                    value.type_name(),
                    index.index_name
                )));
            }
            let size = key_value_size(value);
            if size == 0 {
                let kind = if attribute.scalar_type == ScalarType::B {
                    "binary"
                } else {
                    "string"
                };
                return Err(Error::validation(format!(
                    "One or more parameter values are not valid. A value specified for a \
                     secondary index key is not supported. The AttributeValue for a key \
                     attribute cannot contain an empty {kind} value. IndexName: {}, IndexKey: {}",
                    index.index_name, attribute.name
                )));
            }
            check_key_size(*role, size)?;
        }
    }
    Ok(())
}

/// Checks a table, index or backup name: 3..=255 characters of `[a-zA-Z0-9_.-]`. `field` is
/// the parameter's name in messages (`tableName`, `indexName`, `backupName`). All violations
/// are reported together, as DynamoDB does.
pub fn validate_resource_name(name: &str, field: &str) -> Result<(), Error> {
    let mut violations = Vec::new();
    let length = name.chars().count();
    if length < TABLE_NAME_SIZE_MIN as usize {
        violations.push(format!(
            "Member must have length greater than or equal to {TABLE_NAME_SIZE_MIN}"
        ));
    }
    if length > TABLE_NAME_SIZE_MAX as usize {
        violations.push(format!(
            "Member must have length less than or equal to {TABLE_NAME_SIZE_MAX}"
        ));
    }
    let pattern_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !pattern_ok {
        violations.push("Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+".into());
    }
    if violations.is_empty() {
        return Ok(());
    }
    let count = violations.len();
    let plural = if count == 1 { "error" } else { "errors" };
    let shown = echo(name);
    let details: Vec<String> = violations
        .iter()
        .map(|v| format!("Value '{shown}' at '{field}' failed to satisfy constraint: {v}"))
        .collect();
    Err(Error::validation(format!(
        "{count} validation {plural} detected: {}",
        details.join("; ")
    )))
}

/// Resolves a data-plane `TableName`, which may be a name or a table ARN
/// (`arn:aws:dynamodb:<region>:<account>:table/<name>`, at most 1024 characters), to the
/// table name, validating it.
pub fn table_name_from_parameter(parameter: &str) -> Result<&str, Error> {
    let Some(rest) = parameter.strip_prefix("arn:") else {
        validate_resource_name(parameter, "tableName")?;
        return Ok(parameter);
    };
    if parameter.len() > TABLE_ARN_SIZE_MAX as usize {
        return Err(Error::validation(format!(
            "1 validation error detected: Value at 'tableName' failed to satisfy constraint: \
             Member must have length less than or equal to {TABLE_ARN_SIZE_MAX}"
        )));
    }
    let name = rest
        .split_once(":table/")
        .map(|(_, name)| name)
        .filter(|name| !name.contains('/'))
        .ok_or_else(|| Error::validation(format!("Invalid table ARN: {}", echo(parameter))))?;
    validate_resource_name(name, "tableName")?;
    Ok(name)
}

/// Size of a key value in bytes (UTF-8 for S, raw for B; N values are bounded by 38 digits).
pub fn key_value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.len(),
        AttributeValue::N(n) => n.size_bytes() as usize,
        _ => 0,
    }
}

/// The scalar key type of a value, if it is one.
pub fn scalar_type_of(value: &AttributeValue) -> Option<ScalarType> {
    match value {
        AttributeValue::S(_) => Some(ScalarType::S),
        AttributeValue::N(_) => Some(ScalarType::N),
        AttributeValue::B(_) => Some(ScalarType::B),
        _ => None,
    }
}

/// Extracts the key attributes of an item (after [`validate_item`]).
pub fn key_of(item: &Item, schema: &KeySchema) -> Item {
    key_roles(schema)
        .filter_map(|(attribute, _)| {
            item.get_key_value(&attribute.name)
                .map(|(k, v)| (k.clone(), v.clone()))
        })
        .collect::<BTreeMap<_, _>>()
}

fn key_roles(schema: &KeySchema) -> impl Iterator<Item = (&KeyAttribute, KeyType)> {
    std::iter::once((&schema.partition, KeyType::Hash))
        .chain(schema.sort.iter().map(|sort| (sort, KeyType::Range)))
}

/// Standard base64 with padding (RFC 4648), for echoing binary values in messages.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                text.push('=');
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::Number;

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_owned())
    }

    fn n(text: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(text).unwrap())
    }

    fn schema(sort: Option<ScalarType>) -> KeySchema {
        KeySchema {
            partition: KeyAttribute {
                name: "pk".into(),
                scalar_type: ScalarType::S,
            },
            sort: sort.map(|scalar_type| KeyAttribute {
                name: "sk".into(),
                scalar_type,
            }),
        }
    }

    fn item(entries: &[(&str, AttributeValue)]) -> Item {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    fn check_message(result: Result<(), Error>, expected: &str) {
        let error = result.expect_err(expected);
        assert_eq!(error.kind, crate::error::ErrorKind::Validation);
        assert_eq!(error.message, expected);
    }

    #[test]
    fn set_rules_use_dynamodb_messages() {
        let cases = [
            (
                AttributeValue::Ss(vec![]),
                "One or more parameter values were invalid: An string set  may not be empty",
            ),
            (
                AttributeValue::Ns(vec![]),
                "One or more parameter values were invalid: An number set  may not be empty",
            ),
            (
                AttributeValue::Bs(vec![]),
                "One or more parameter values were invalid: Binary sets should not be empty",
            ),
            (
                AttributeValue::Ss(vec!["a".into(), "a".into()]),
                "One or more parameter values were invalid: Input collection [a, a] contains \
                 duplicates.",
            ),
            (
                AttributeValue::Bs(vec![b"b".to_vec(), b"b".to_vec()]),
                "One or more parameter values were invalid: Input collection [Yg==, Yg==]of type \
                 BS contains duplicates.",
            ),
            (
                AttributeValue::Ns(vec![
                    Number::parse("1").unwrap(),
                    Number::parse("1.0").unwrap(),
                ]),
                "One or more parameter values were invalid: Input collection contains duplicates",
            ),
        ];
        for (value, message) in cases {
            check_message(validate_value(&value, 2), message);
        }
        // Empty members are fine; sets inside documents are checked too.
        assert!(validate_value(&AttributeValue::Ss(vec![String::new()]), 2).is_ok());
        assert!(validate_value(&AttributeValue::Bs(vec![vec![]]), 2).is_ok());
        let nested = AttributeValue::L(vec![AttributeValue::Ss(vec![])]);
        assert!(validate_value(&nested, 2).is_err());
    }

    #[test]
    fn nesting_limit_counts_the_item_as_level_one() {
        let nest = |maps: usize| {
            let mut value = s("leaf");
            for _ in 0..maps {
                value = AttributeValue::M(BTreeMap::from([("m".to_owned(), value)]));
            }
            value
        };
        // The top-level attribute plus 30 nested maps: levels 2..=32.
        assert!(validate_attributes(&item(&[("a", nest(31))])).is_ok());
        let error = validate_attributes(&item(&[("a", nest(32))])).unwrap_err();
        assert!(
            error
                .message
                .contains("Nesting Levels have exceeded supported limits")
        );

        assert!(validate_attributes(&item(&[("a", nest(50))])).is_err());
    }

    #[test]
    fn attribute_name_limits() {
        assert!(validate_attribute_name(&"x".repeat(65535)).is_ok());
        assert!(validate_attribute_name(&"x".repeat(65536)).is_err());
        assert!(validate_attribute_name("with space\0and nul").is_ok());
        let error = validate_attribute_name("").unwrap_err();
        assert!(error.message.contains("Empty attribute name"));
        let nested = AttributeValue::M(BTreeMap::from([(String::new(), s("x"))]));
        assert!(validate_value(&nested, 2).is_err());
    }

    #[test]
    fn keys_are_checked_for_shape_type_emptiness_and_size() {
        let composite = schema(Some(ScalarType::N));
        assert!(validate_key(&item(&[("pk", s("a")), ("sk", n("1"))]), &composite).is_ok());
        let mismatch = "The provided key element does not match the schema";
        check_message(validate_key(&item(&[("pk", s("a"))]), &composite), mismatch);
        check_message(
            validate_key(
                &item(&[("pk", s("a")), ("sk", n("1")), ("x", s("y"))]),
                &composite,
            ),
            mismatch,
        );
        check_message(
            validate_key(&item(&[("pk", s("a")), ("zz", n("1"))]), &composite),
            mismatch,
        );
        check_message(
            validate_key(&item(&[("pk", s("a")), ("sk", s("1"))]), &composite),
            "One or more parameter values were invalid: Type mismatch for key sk expected: N \
             actual: S",
        );
        check_message(
            validate_key(&item(&[("pk", s("")), ("sk", n("1"))]), &composite),
            "One or more parameter values are not valid. The AttributeValue for a key attribute \
             cannot contain an empty string value. Key: pk",
        );
        let binary = schema(Some(ScalarType::B));
        let error = validate_key(
            &item(&[("pk", s("a")), ("sk", AttributeValue::B(vec![]))]),
            &binary,
        )
        .unwrap_err();
        assert!(
            error.message.contains("empty binary value. Key: sk"),
            "{}",
            error.message
        );
        let long_sort = AttributeValue::B(vec![7; 1025]);
        let error = validate_key(&item(&[("pk", s("a")), ("sk", long_sort)]), &binary).unwrap_err();
        assert!(error.message.starts_with(
            "One or more parameter values were invalid: Aggregated size of all range keys has \
             exceeded the size limit of 1024 bytes"
        ));
        let ok_sort = AttributeValue::B(vec![7; 1024]);
        assert!(validate_key(&item(&[("pk", s("a")), ("sk", ok_sort)]), &binary).is_ok());
        let simple = schema(None);
        assert!(validate_key(&item(&[("pk", s(&"p".repeat(2048)))]), &simple).is_ok());
        let error = validate_key(&item(&[("pk", s(&"p".repeat(2049)))]), &simple).unwrap_err();
        assert!(
            error
                .message
                .contains("Size of hashkey has exceeded the maximum size limit of2048")
        );
    }

    #[test]
    fn items_need_their_keys_and_fit_400_kb() {
        let composite = schema(Some(ScalarType::S));
        check_message(
            validate_item(&item(&[("pk", s("a"))]), &composite, &[]),
            "One or more parameter values were invalid: Missing the key sk in the item",
        );
        // 409,600 bytes exactly: "pk" (2) + "a" (1) + "sk" (2) + "b" (1) + "v" (1) + value.
        let filler = "x".repeat(409_600 - 7);
        let full = item(&[("pk", s("a")), ("sk", s("b")), ("v", s(&filler))]);
        assert!(validate_item(&full, &composite, &[]).is_ok());
        let over = item(&[
            ("pk", s("a")),
            ("sk", s("b")),
            ("v", s(&format!("{filler}x"))),
        ]);
        let error = validate_item(&over, &composite, &[]).unwrap_err();
        assert!(
            error
                .message
                .starts_with("Item size has exceeded the maximum allowed size")
        );
        let error = validate_item_size(&over, true).unwrap_err();
        assert!(
            error
                .message
                .starts_with("Item size to update has exceeded")
        );
    }

    #[test]
    fn index_keys_are_checked_when_present() {
        let table = schema(None);
        let index = IndexKeys {
            index_name: "byColor".into(),
            attributes: vec![(
                KeyAttribute {
                    name: "color".into(),
                    scalar_type: ScalarType::S,
                },
                KeyType::Hash,
            )],
        };
        let indexes = [index];
        assert!(validate_item(&item(&[("pk", s("a"))]), &table, &indexes).is_ok());
        assert!(
            validate_item(
                &item(&[("pk", s("a")), ("color", s("red"))]),
                &table,
                &indexes
            )
            .is_ok()
        );
        check_message(
            validate_item(
                &item(&[("pk", s("a")), ("color", n("1"))]),
                &table,
                &indexes,
            ),
            "One or more parameter values were invalid: Type mismatch for Index Key color \
             Expected: S Actual: N IndexName: byColor",
        );
        let error = validate_item(&item(&[("pk", s("a")), ("color", s(""))]), &table, &indexes)
            .unwrap_err();
        assert!(
            error
                .message
                .contains("IndexName: byColor, IndexKey: color")
        );
    }

    #[test]
    fn resource_names() {
        assert!(validate_resource_name("Pets.v1-_", "tableName").is_ok());
        check_message(
            validate_resource_name("ab", "tableName"),
            "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy \
             constraint: Member must have length greater than or equal to 3",
        );
        check_message(
            validate_resource_name("a b", "tableName"),
            "1 validation error detected: Value 'a b' at 'tableName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
        );
        let error = validate_resource_name("!", "indexName").unwrap_err();
        assert!(
            error
                .message
                .starts_with("2 validation errors detected: Value '!' at 'indexName'")
        );
        assert!(validate_resource_name(&"t".repeat(256), "tableName").is_err());
        let arn = "arn:aws:dynamodb:us-east-1:123456789012:table/Pets";
        assert_eq!(table_name_from_parameter(arn).unwrap(), "Pets");
        assert_eq!(table_name_from_parameter("Pets").unwrap(), "Pets");
        assert!(table_name_from_parameter("arn:aws:dynamodb:us-east-1:1:table/P/index/x").is_err());
    }

    #[test]
    fn base64_matches_rfc_4648() {
        let cases: [(&[u8], &str); 5] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
        ];
        for (input, expected) in cases {
            assert_eq!(base64(input), expected);
        }
    }

    #[test]
    fn key_of_extracts_key_attributes() {
        let composite = schema(Some(ScalarType::N));
        let full = item(&[("pk", s("a")), ("sk", n("2")), ("other", s("x"))]);
        assert_eq!(
            key_of(&full, &composite),
            item(&[("pk", s("a")), ("sk", n("2"))])
        );
    }
}
