//! UpdateExpression: validation messages, application, UPDATED_OLD / UPDATED_NEW (§8.4, §5).

use super::*;

fn update_values() -> Vec<(&'static str, AttributeValue)> {
    vec![
        (":v", s("v")),
        (":w", s("w")),
        (":s", s("text")),
        (":zero", n("0")),
        (":one", n("1")),
        (":inc", n("1")),
        (":big", n("9e125")),
        (":l", l(vec![s("x")])),
        (":set", ss(&["x", "z"])),
        (":x", ss(&["x"])),
        (":xy", ss(&["x", "y"])),
        (":nums", ns(&["1"])),
    ]
}

/// Parses with every test placeholder available (unused ones are not the error here).
fn parse(text: &str) -> Result<UpdateExpr, String> {
    let name_map = names(&[("#a", "a"), ("#k", "key.with.dots")]);
    let value_map = item(&update_values());
    let mut subs = Substitutions::new(Some(&name_map), Some(&value_map));
    parse_update(text, &mut subs).map_err(|e| e.message)
}

fn check(text: &str, expected: &str) {
    assert_eq!(parse(text).err().as_deref(), Some(expected), "{text}");
}

#[test]
fn validation_messages_match_dynamodb() {
    let p = "Invalid UpdateExpression: ";
    let type_error = |op: &str, t: &str| {
        format!(
            "{p}Incorrect operand type for operator or function; operator or function: {op}, \
             operand type: {t}"
        )
    };
    let context = |f: &str| {
        format!(
            "{p}The function is not allowed to be used this way in an expression; function: {f}"
        )
    };
    let cases: Vec<(&str, String)> = vec![
        ("", format!("{p}The expression can not be empty;")),
        (
            "SET a = :v SET b = :v",
            format!("{p}The \"SET\" section can only be used once in an update expression;"),
        ),
        (
            "REMOVE a ADD b :one remove c",
            format!("{p}The \"REMOVE\" section can only be used once in an update expression;"),
        ),
        (
            "SET a = :v, a.b = :w",
            format!(
                "{p}Two document paths overlap with each other; must remove or rewrite one of \
                 these paths; path one: [a], path two: [a, b]"
            ),
        ),
        (
            "SET a.b = :v, #a[1] = :w",
            format!(
                "{p}Two document paths conflict with each other; must remove or rewrite one of \
                 these paths; path one: [a, b], path two: [a, [1]]"
            ),
        ),
        (
            "SET a = :v REMOVE a",
            format!(
                "{p}Two document paths overlap with each other; must remove or rewrite one of \
                 these paths; path one: [a], path two: [a]"
            ),
        ),
        (
            "SET a = size(b)",
            format!("{p}The function is not allowed in an update expression; function: size"),
        ),
        (
            "SET a = foo(b)",
            format!("{p}Invalid function name; function: foo"),
        ),
        (
            "SET a = list_append(list_append(a, :l), :l)",
            context("list_append"),
        ),
        ("SET a = list_append(a, :l) + :one", context("list_append")),
        (
            "SET a = if_not_exists(:v, a)",
            format!(
                "{p}Operator or function requires a document path; operator or function: \
             if_not_exists"
            ),
        ),
        (
            "SET a = if_not_exists(a, :one, :one)",
            format!(
                "{p}Incorrect number of operands for operator or function; operator or function: \
             if_not_exists, number of operands: 3"
            ),
        ),
        ("SET a = b + :s", type_error("+", "S")),
        ("SET a = :l - b", type_error("-", "L")),
        ("SET a = list_append(a, :s)", type_error("list_append", "S")),
        (
            "ADD a :s",
            format!(
                "{p}Incorrect operand type for operator or function; operator: ADD, operand type: \
             STRING, typeSet: ALLOWED_FOR_ADD_OPERAND"
            ),
        ),
        (
            "ADD a :l",
            format!(
                "{p}Incorrect operand type for operator or function; operator: ADD, operand type: \
             LIST, typeSet: ALLOWED_FOR_ADD_OPERAND"
            ),
        ),
        (
            "DELETE a :one",
            format!(
                "{p}Incorrect operand type for operator or function; operator: DELETE, operand \
             type: NUMBER, typeSet: ALLOWED_FOR_DELETE_OPERAND"
            ),
        ),
        (
            "SET #zz = :v",
            format!(
                "{p}An expression attribute name used in the document path is not defined; \
             attribute name: #zz"
            ),
        ),
        (
            "SET a = :nothing",
            format!(
                "{p}An expression attribute value used in expression is not defined; attribute \
             value: :nothing"
            ),
        ),
        (
            "SET status = :v",
            format!("{p}Attribute name is a reserved keyword; reserved keyword: status"),
        ),
        (
            "REMOVE a, b.size",
            format!("{p}Attribute name is a reserved keyword; reserved keyword: size"),
        ),
        (
            "SET a = b + c + d",
            format!("{p}Syntax error; token: \"+\", near: \"c + d\""),
        ),
        (
            "DELETE a",
            format!("{p}Syntax error; token: \"<EOF>\", near: \"a\""),
        ),
        ("SET a = (b)", String::new()),
    ];
    for (text, expected) in cases {
        if expected.is_empty() {
            assert!(parse(text).is_ok(), "{text}");
        } else {
            check(text, &expected);
        }
    }
    let long = format!("SET a = :v{}", " ".repeat(4087));
    check(
        &long,
        &format!("{p}Expression size has exceeded the maximum allowed size;"),
    );
}

/// Applies `text` to `old` (key `{pk: "k"}`) and compares the new item or the error message.
fn applies(text: &str, old: Option<Item>, expected: Result<Option<Item>, &str>) {
    let update = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let key = item(&[("pk", s("k"))]);
    let outcome = update
        .apply(old.as_ref(), &key)
        .map(|o| o.item)
        .map_err(|e| e.message);
    assert_eq!(outcome, expected.map_err(str::to_string), "{text}");
}

fn with_key(entries: &[(&str, AttributeValue)]) -> Item {
    let mut result = item(entries);
    result.insert("pk".into(), s("k"));
    result
}

const PATH_INVALID: &str =
    "The document path provided in the update expression is invalid for update";
const OPERAND_TYPE: &str = "An operand in the update expression has an incorrect data type";

#[test]
fn set_creates_replaces_and_appends() {
    applies("SET a = :v", None, Ok(Some(with_key(&[("a", s("v"))]))));
    applies("SET a.b = :v", None, Err(PATH_INVALID));
    let old = with_key(&[
        ("m", m(&[("k", n("1"))])),
        ("l", l(vec![n("1"), n("2"), n("3")])),
    ]);
    applies(
        "SET m.x = :v, l[1] = :w",
        Some(old.clone()),
        Ok(Some(with_key(&[
            ("m", m(&[("k", n("1")), ("x", s("v"))])),
            ("l", l(vec![n("1"), s("w"), n("3")])),
        ]))),
    );
    applies(
        "SET l[10] = :v, l[5] = :w",
        Some(old.clone()),
        Ok(Some(with_key(&[
            ("m", m(&[("k", n("1"))])),
            ("l", l(vec![n("1"), n("2"), n("3"), s("w"), s("v")])),
        ]))),
    );
    applies("SET m[0] = :v", Some(old.clone()), Err(PATH_INVALID));
    applies("SET l.x = :v", Some(old.clone()), Err(PATH_INVALID));
    applies(
        "SET #k = :v",
        Some(old.clone()),
        Ok(Some({
            let mut new = old.clone();
            new.insert("key.with.dots".into(), s("v"));
            new
        })),
    );
    applies(
        "SET a = :one, b = a",
        Some(with_key(&[("a", n("5"))])),
        Ok(Some(with_key(&[("a", n("1")), ("b", n("5"))]))),
    );
}

#[test]
fn arithmetic_and_functions() {
    applies(
        "SET c = if_not_exists(c, :zero) + :inc",
        None,
        Ok(Some(with_key(&[("c", n("1"))]))),
    );
    applies(
        "SET c = if_not_exists(c, :zero) + :inc",
        Some(with_key(&[("c", n("5"))])),
        Ok(Some(with_key(&[("c", n("6"))]))),
    );
    applies(
        "SET a = a - :one",
        Some(with_key(&[("a", n("5"))])),
        Ok(Some(with_key(&[("a", n("4"))]))),
    );
    applies(
        "SET a = b + :one",
        Some(with_key(&[])),
        Err("The provided expression refers to an attribute that does not exist in the item"),
    );
    applies(
        "SET a = s + :one",
        Some(with_key(&[("s", s("x"))])),
        Err(OPERAND_TYPE),
    );
    applies(
        "SET a = a + :big",
        Some(with_key(&[("a", n("9e125"))])),
        Err(
            "Number overflow. Attempting to store a number with magnitude larger than supported \
             range",
        ),
    );
    applies(
        "SET l = list_append(l, :l)",
        Some(with_key(&[("l", l(vec![n("1")]))])),
        Ok(Some(with_key(&[("l", l(vec![n("1"), s("x")]))]))),
    );
    applies(
        "SET l = list_append(:l, l)",
        Some(with_key(&[("l", l(vec![n("1")]))])),
        Ok(Some(with_key(&[("l", l(vec![s("x"), n("1")]))]))),
    );
    applies(
        "SET l = list_append(l, :l)",
        Some(with_key(&[("l", n("1"))])),
        Err(OPERAND_TYPE),
    );
    applies(
        "SET l = list_append(if_not_exists(l, :l), :l)",
        None,
        Ok(Some(with_key(&[("l", l(vec![s("x"), s("x")]))]))),
    );
}

#[test]
fn remove_shifts_list_elements_and_never_creates() {
    let list = || {
        l(vec![
            s("a"),
            s("b"),
            s("c"),
            m(&[("x", n("1")), ("y", n("2"))]),
        ])
    };
    applies(
        "REMOVE l[0], l[2]",
        Some(with_key(&[("l", list())])),
        Ok(Some(with_key(&[(
            "l",
            l(vec![s("b"), m(&[("x", n("1")), ("y", n("2"))])]),
        )]))),
    );
    applies(
        "REMOVE l[1], l[3].x",
        Some(with_key(&[("l", list())])),
        Ok(Some(with_key(&[(
            "l",
            l(vec![s("a"), s("c"), m(&[("y", n("2"))])]),
        )]))),
    );
    applies(
        "REMOVE l[9]",
        Some(with_key(&[("l", list())])),
        Ok(Some(with_key(&[("l", list())]))),
    );
    applies("REMOVE q", Some(with_key(&[])), Ok(Some(with_key(&[]))));
    applies("REMOVE q.x", Some(with_key(&[])), Err(PATH_INVALID));
    applies("REMOVE q.x, a", None, Ok(None));
    applies("DELETE q :x", None, Ok(None));
    applies(
        "REMOVE m.k",
        Some(with_key(&[("m", m(&[("k", n("1"))]))])),
        Ok(Some(with_key(&[("m", m(&[]))]))),
    );
    applies(
        "REMOVE l[1] SET l[3] = :v",
        Some(with_key(&[("l", l(vec![n("0"), n("1"), n("2")]))])),
        Ok(Some(with_key(&[("l", l(vec![n("0"), n("2"), s("v")]))]))),
    );
}

#[test]
fn add_and_delete() {
    applies("ADD n :one", None, Ok(Some(with_key(&[("n", n("1"))]))));
    applies(
        "ADD n :one",
        Some(with_key(&[("n", n("5"))])),
        Ok(Some(with_key(&[("n", n("6"))]))),
    );
    applies(
        "ADD s :set",
        Some(with_key(&[("s", ss(&["x", "y"]))])),
        Ok(Some(with_key(&[("s", ss(&["x", "y", "z"]))]))),
    );
    applies(
        "ADD s :one",
        Some(with_key(&[("s", s("x"))])),
        Err(OPERAND_TYPE),
    );
    applies(
        "ADD s :nums",
        Some(with_key(&[("s", ss(&["x"]))])),
        Err(OPERAND_TYPE),
    );
    applies(
        "DELETE s :x",
        Some(with_key(&[("s", ss(&["x", "y"]))])),
        Ok(Some(with_key(&[("s", ss(&["y"]))]))),
    );
    applies(
        "DELETE s :xy",
        Some(with_key(&[("s", ss(&["x", "y"]))])),
        Ok(Some(with_key(&[]))),
    );
    applies("DELETE q :x", Some(with_key(&[])), Ok(Some(with_key(&[]))));
    applies(
        "DELETE s :x",
        Some(with_key(&[("s", s("x"))])),
        Err(OPERAND_TYPE),
    );
    applies(
        "ADD l[5] :one",
        Some(with_key(&[("l", l(vec![n("1")]))])),
        Ok(Some(with_key(&[("l", l(vec![n("1"), n("1")]))]))),
    );
}

/// Applies `text` to `old` and compares UPDATED_OLD and UPDATED_NEW.
fn returns(text: &str, old: Option<Item>, expected_old: Option<Item>, expected_new: Option<Item>) {
    let update = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let key = item(&[("pk", s("k"))]);
    let outcome = update.apply(old.as_ref(), &key).expect("applies");
    assert_eq!(
        outcome.updated_old(old.as_ref()),
        expected_old,
        "{text} (old)"
    );
    assert_eq!(outcome.updated_new(), expected_new, "{text} (new)");
}

#[test]
fn updated_old_and_new_wrap_touched_paths() {
    let old = with_key(&[("a", m(&[("b", n("1")), ("c", n("2"))])), ("x", n("9"))]);
    returns(
        "SET a.b = :v",
        Some(old.clone()),
        Some(item(&[("a", m(&[("b", n("1"))]))])),
        Some(item(&[("a", m(&[("b", s("v"))]))])),
    );
    returns(
        "REMOVE x",
        Some(old.clone()),
        Some(item(&[("x", n("9"))])),
        None,
    );
    returns("SET y = :v", Some(old), None, Some(item(&[("y", s("v"))])));
    returns("SET y = :v", None, None, Some(item(&[("y", s("v"))])));
    let list = with_key(&[("l", l(vec![s("a"), s("b"), s("c")])), ("x", n("1"))]);
    returns(
        "REMOVE x, l[0] SET l[2] = :v",
        Some(list.clone()),
        Some(item(&[("x", n("1")), ("l", l(vec![s("a"), s("c")]))])),
        Some(item(&[("l", l(vec![s("v")]))])),
    );
    returns(
        "SET l[7] = :v",
        Some(list),
        None,
        Some(item(&[("l", l(vec![s("v")]))])),
    );
}

#[test]
fn key_attributes_cannot_be_updated() {
    let update = parse("SET a = :v, pk = :w").expect("parses");
    assert_eq!(
        update.check_key_attributes(&["pk"]).map_err(|e| e.message),
        Err(
            "One or more parameter values were invalid: Cannot update attribute pk. This \
             attribute is part of the key"
                .to_string()
        )
    );
    assert!(update.check_key_attributes(&["other"]).is_ok());
    assert!(
        !parse("REMOVE a DELETE b :x")
            .expect("parses")
            .creates_item()
    );
    assert!(parse("REMOVE a ADD b :one").expect("parses").creates_item());
}
