//! `Select` of Query and Scan against the projection parameters (dynamodb-semantics.md §7.5):
//! what a page returns for each item read.
//!
//! Invariant: a projection is allowed only with `Select` absent or `SPECIFIC_ATTRIBUTES`;
//! `SPECIFIC_ATTRIBUTES` needs one; `ALL_PROJECTED_ATTRIBUTES` needs an index. Query wraps
//! these messages in DynamoDB's "1 validation error detected: " envelope, Scan does not.
//! Does not parse the projection (`shoal_wire::expr` does).

use shoal_wire::Error;
use shoal_wire::expr::Projection;
use shoal_wire::message::Select;
use shoal_wire::value::Item;

/// What a page returns for each item that passes the filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    /// The whole item.
    All,
    /// The projected part of the item.
    Project(Projection),
    /// Nothing: only counts (`Select=COUNT`).
    Count,
}

impl Selection {
    /// The returned form of `item`, or `None` for COUNT.
    pub(crate) fn apply(&self, item: Item) -> Option<Item> {
        match self {
            Selection::All => Some(item),
            Selection::Project(projection) => Some(projection.apply(&item)),
            Selection::Count => None,
        }
    }
}

/// Which operation asks: the messages differ slightly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reader {
    Query,
    Scan,
}

/// Checks `Select` against the projection parameters before anything is parsed.
/// `projection_parameter` names the projection parameter present (`ProjectionExpression` or
/// `AttributesToGet`), if any.
pub(crate) fn check_select(
    select: Option<Select>,
    projection_parameter: Option<&str>,
    index: bool,
    reader: Reader,
) -> Result<(), Error> {
    let prefix = match reader {
        Reader::Query => "1 validation error detected: ",
        Reader::Scan => "",
    };
    let fail = |text: String| Err(Error::validation(format!("{prefix}{text}")));
    if let Some(parameter) = projection_parameter {
        let chosen = match select {
            Some(Select::AllAttributes) => Some("ALL_ATTRIBUTES"),
            Some(Select::AllProjectedAttributes) => Some("ALL_PROJECTED_ATTRIBUTES"),
            Some(Select::Count) => Some("only the Count"),
            Some(Select::SpecificAttributes) | None => None,
        };
        if let Some(chosen) = chosen {
            return fail(format!(
                "Cannot specify the {parameter} when choosing to get {chosen}"
            ));
        }
    } else if select == Some(Select::SpecificAttributes) {
        return fail(
            "Must specify the AttributesToGet or ProjectionExpression when choosing to get \
             SPECIFIC_ATTRIBUTES"
                .to_owned(),
        );
    }
    if select == Some(Select::AllProjectedAttributes) && !index {
        return fail(
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName".to_owned(),
        );
    }
    Ok(())
}

/// The selection once the projection is parsed (`check_select` has passed).
pub(crate) fn selection(select: Option<Select>, projection: Option<Projection>) -> Selection {
    match (select, projection) {
        (Some(Select::Count), _) => Selection::Count,
        (_, Some(projection)) => Selection::Project(projection),
        _ => Selection::All,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(select: Option<Select>, projection: Option<&str>, reader: Reader) -> Option<String> {
        check_select(select, projection, false, reader)
            .err()
            .map(|e| e.message)
    }

    #[test]
    fn select_rules_with_dynamodb_messages() {
        let projection = Some("ProjectionExpression");
        let legacy = Some("AttributesToGet");
        type Case<'a> = (Option<Select>, Option<&'a str>, Reader, Option<&'a str>);
        let cases: [Case<'_>; 9] = [
            (None, None, Reader::Query, None),
            (None, projection, Reader::Query, None),
            (
                Some(Select::SpecificAttributes),
                projection,
                Reader::Scan,
                None,
            ),
            (Some(Select::Count), None, Reader::Scan, None),
            (
                Some(Select::Count),
                projection,
                Reader::Query,
                Some(
                    "1 validation error detected: Cannot specify the ProjectionExpression when \
                     choosing to get only the Count",
                ),
            ),
            (
                Some(Select::AllAttributes),
                legacy,
                Reader::Scan,
                Some("Cannot specify the AttributesToGet when choosing to get ALL_ATTRIBUTES"),
            ),
            (
                Some(Select::SpecificAttributes),
                None,
                Reader::Scan,
                Some(
                    "Must specify the AttributesToGet or ProjectionExpression when choosing to \
                     get SPECIFIC_ATTRIBUTES",
                ),
            ),
            (
                Some(Select::AllProjectedAttributes),
                None,
                Reader::Query,
                Some(
                    "1 validation error detected: ALL_PROJECTED_ATTRIBUTES can be used only when \
                     Querying using an IndexName",
                ),
            ),
            // Both rules broken: the projection one is reported.
            (
                Some(Select::AllProjectedAttributes),
                projection,
                Reader::Scan,
                Some(
                    "Cannot specify the ProjectionExpression when choosing to get \
                     ALL_PROJECTED_ATTRIBUTES",
                ),
            ),
        ];
        for (select, parameter, reader, expected) in cases {
            assert_eq!(
                message(select, parameter, reader).as_deref(),
                expected,
                "{select:?} {parameter:?} {reader:?}"
            );
        }
    }
}
