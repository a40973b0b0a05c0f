//! ProjectionExpression and AttributesToGet: validation and projected items (§8.6).

use super::*;

fn parse(text: &str) -> Result<Projection, String> {
    let name_map = names(&[("#n", "name"), ("#d", "a.b")]);
    let mut subs = Substitutions::new(Some(&name_map), None);
    parse_projection(text, &mut subs).map_err(|e| e.message)
}

fn check(text: &str, expected: &str) {
    assert_eq!(parse(text).err().as_deref(), Some(expected), "{text}");
}

#[test]
fn validation_messages_match_dynamodb() {
    let p = "Invalid ProjectionExpression: ";
    check("", &format!("{p}The expression can not be empty;"));
    check(
        "a, a",
        &format!(
            "{p}Two document paths overlap with each other; must remove or rewrite one of these \
         paths; path one: [a], path two: [a]"
        ),
    );
    check(
        "a.b, a",
        &format!(
            "{p}Two document paths overlap with each other; must remove or rewrite one of these \
         paths; path one: [a], path two: [a, b]"
        ),
    );
    check(
        "a.b, a[0]",
        &format!(
            "{p}Two document paths conflict with each other; must remove or rewrite one of these \
         paths; path one: [a, [0]], path two: [a, b]"
        ),
    );
    check(
        "name",
        &format!("{p}Attribute name is a reserved keyword; reserved keyword: name"),
    );
    check(
        "#x",
        &format!(
            "{p}An expression attribute name used in the document path is not defined; attribute \
         name: #x"
        ),
    );
    check(
        "(a)",
        &format!("{p}Syntax error; token: \"(\", near: \"(a\""),
    );
    check(
        "a, :v",
        &format!("{p}Syntax error; token: \":v\", near: \", :v\""),
    );
    check(
        "a,",
        &format!("{p}Syntax error; token: \"<EOF>\", near: \",\""),
    );
    let deep = vec!["x"; 33].join(".");
    check(
        &deep,
        &format!("{p}The document path has too many nesting levels; nesting levels: 33"),
    );
    let long = format!("a{}", " ".repeat(4096));
    check(
        &long,
        &format!("{p}Expression size has exceeded the maximum allowed size;"),
    );
}

fn projects(text: &str, source: &Item, expected: Item) {
    let projection = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(projection.apply(source), expected, "{text}");
}

#[test]
fn projection_keeps_structure() {
    let source = item(&[
        ("pk", s("k")),
        ("name", s("n")),
        ("a.b", s("dotted")),
        (
            "a",
            m(&[
                (
                    "b",
                    l(vec![n("0"), n("1"), m(&[("y", s("why")), ("z", s("zed"))])]),
                ),
                ("c", s("see")),
            ]),
        ),
        ("l", l(vec![s("l0"), s("l1"), s("l2")])),
    ]);
    projects(
        "a.b[2].y",
        &source,
        item(&[("a", m(&[("b", l(vec![m(&[("y", s("why"))])]))]))]),
    );
    projects(
        "a.b[2].y, a.c, pk",
        &source,
        item(&[
            ("pk", s("k")),
            (
                "a",
                m(&[("b", l(vec![m(&[("y", s("why"))])])), ("c", s("see"))]),
            ),
        ]),
    );
    projects(
        "l[2], l[0]",
        &source,
        item(&[("l", l(vec![s("l0"), s("l2")]))]),
    );
    projects("l[9], q, a.zz, a.c[0]", &source, item(&[]));
    projects(
        "#n, #d",
        &source,
        item(&[("name", s("n")), ("a.b", s("dotted"))]),
    );
}

#[test]
fn attributes_to_get_selects_top_level_names() {
    let projection = attributes_to_get(&["a".into(), "pk".into()]).expect("valid");
    let source = item(&[("pk", s("k")), ("a", n("1")), ("b", n("2"))]);
    assert_eq!(
        projection.apply(&source),
        item(&[("pk", s("k")), ("a", n("1"))])
    );
    assert_eq!(
        attributes_to_get(&["a".into(), "a".into()])
            .err()
            .map(|e| e.message),
        Some(
            "One or more parameter values were invalid: Duplicate value in attribute name: a"
                .into()
        )
    );
    assert!(attributes_to_get(&[]).is_err());
}
