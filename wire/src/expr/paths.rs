//! Overlap and conflict between the document paths of one update or projection (§8.4, §8.6).
//!
//! Invariant: two paths overlap when one is a prefix of the other (or they are equal), and
//! conflict when, after a common prefix, one steps into a map and the other into a list. The
//! new path is reported as "path one" and the earlier one as "path two", as DynamoDB does.
//! Does not resolve paths: `resolve` produced them.

use super::ast::{Path, PathElement};
use super::messages::{self, PATH_CONFLICT, PATH_OVERLAP};

/// Fails if `new` overlaps or conflicts with any of `earlier`, checked in order.
pub(crate) fn check_overlap(new: &Path, earlier: &[Path]) -> Result<(), String> {
    for old in earlier {
        let shared = new
            .elements()
            .iter()
            .zip(old.elements())
            .take_while(|(a, b)| a == b)
            .count();
        let shorter = new.elements().len().min(old.elements().len());
        let base = if shared == shorter {
            PATH_OVERLAP
        } else {
            let kinds_differ = matches!(
                (&new.elements()[shared], &old.elements()[shared]),
                (PathElement::Name(_), PathElement::Index(_))
                    | (PathElement::Index(_), PathElement::Name(_))
            );
            if !kinds_differ {
                continue;
            }
            PATH_CONFLICT
        };
        return Err(messages::detail(
            base,
            &[("path one", new), ("path two", old)],
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> Path {
        let elements = text
            .split('.')
            .map(|part| match part.parse::<u32>() {
                Ok(index) => PathElement::Index(index),
                Err(_) => PathElement::Name(part.to_string()),
            })
            .collect();
        Path::new(elements)
    }

    fn check(new: &str, earlier: &[&str], expected: Option<&str>) {
        let earlier: Vec<Path> = earlier.iter().map(|p| path(p)).collect();
        assert_eq!(
            check_overlap(&path(new), &earlier).err().as_deref(),
            expected,
            "{new}"
        );
    }

    #[test]
    fn overlap_and_conflict() {
        check("a.b", &["a.c", "x"], None);
        check("a.1", &["a.2"], None);
        check(
            "a",
            &["a.b"],
            Some(
                "Two document paths overlap with each other; must remove or rewrite one of \
                  these paths; path one: [a], path two: [a, b]",
            ),
        );
        check(
            "a.b",
            &["a"],
            Some(
                "Two document paths overlap with each other; must remove or rewrite one of \
                  these paths; path one: [a, b], path two: [a]",
            ),
        );
        check(
            "a.0",
            &["a.b"],
            Some(
                "Two document paths conflict with each other; must remove or rewrite one of \
                  these paths; path one: [a, [0]], path two: [a, b]",
            ),
        );
        check(
            "a",
            &["a"],
            Some(
                "Two document paths overlap with each other; must remove or \
                                rewrite one of these paths; path one: [a], path two: [a]",
            ),
        );
    }
}
