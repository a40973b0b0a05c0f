//! ConditionExpression / FilterExpression: validation messages and evaluation (§8.3, §1.6).

use super::*;

fn values_for_checks() -> Vec<(&'static str, AttributeValue)> {
    vec![
        (":v", s("x")),
        (":n", n("1")),
        (":l", l(vec![n("1")])),
        (":bad", s("XX")),
        (":b", n("1")),
        (":a", s("a")),
    ]
}

/// Parses `text` (with all test placeholders, so unused ones are not the error) and compares
/// the error message.
fn check(text: &str, expected: &str) {
    let names = [("#n", "name")];
    let name_map = super::names(&names);
    let value_map = item(&values_for_checks());
    let mut subs = Substitutions::new(Some(&name_map), Some(&value_map));
    let result = parse_condition(text, ExpressionKind::Condition, &mut subs);
    let message = result.err().map(|e| e.message);
    assert_eq!(message.as_deref(), Some(expected), "{text}");
}

#[test]
fn validation_messages_match_dynamodb() {
    let p = "Invalid ConditionExpression: ";
    let cases: Vec<(String, String)> = vec![
        ("".into(), format!("{p}The expression can not be empty;")),
        (
            "a > 4".into(),
            format!("{p}Syntax error; token: \"4\", near: \"> 4\""),
        ),
        (
            "foo".into(),
            format!("{p}Syntax error; token: \"<EOF>\", near: \"foo\""),
        ),
        (
            "a = :v b".into(),
            format!("{p}Syntax error; token: \"b\", near: \":v b\""),
        ),
        (
            "NOT a".into(),
            format!("{p}Syntax error; token: \"<EOF>\", near: \"a\""),
        ),
        (
            "((a = :v))".into(),
            format!("{p}The expression has redundant parentheses;"),
        ),
        (
            "BEGINS_WITH(a, :v)".into(),
            format!("{p}Invalid function name; function: BEGINS_WITH"),
        ),
        (
            "attribute_exists(a) < :v".into(),
            format!(
                "{p}The function is not allowed to be used this way in an expression; function: \
                 attribute_exists"
            ),
        ),
        (
            "size(a)".into(),
            format!(
                "{p}The function is not allowed to be used this way in an expression; function: \
                 size"
            ),
        ),
        (
            "if_not_exists(a, :v) = :v".into(),
            format!(
                "{p}The function is not allowed in a condition expression; function: if_not_exists"
            ),
        ),
        (
            "a = :v AND Status = :v".into(),
            format!("{p}Attribute name is a reserved keyword; reserved keyword: Status"),
        ),
        (
            "#x = :v".into(),
            format!(
                "{p}An expression attribute name used in the document path is not defined; \
                 attribute name: #x"
            ),
        ),
        (
            "a = :zz".into(),
            format!(
                "{p}An expression attribute value used in expression is not defined; attribute \
                 value: :zz"
            ),
        ),
        (
            "#n <> name2 AND a = a".into(),
            format!(
                "{p}The first operand must be distinct from the remaining operands for this \
                 operator or function; operator: =, first operand: [a]"
            ),
        ),
        (
            "contains(a.b[1], a.b[1])".into(),
            format!(
                "{p}The first operand must be distinct from the remaining operands for this \
                 operator or function; operator: contains, first operand: [a, b, [1]]"
            ),
        ),
        (
            "a < :l".into(),
            format!(
                "{p}Incorrect operand type for operator or function; operator or function: <, \
                 operand type: L"
            ),
        ),
        (
            "a between :b and :a".into(),
            format!(
                "{p}The BETWEEN operator requires same data type for lower and upper bounds; \
                 lower bound operand: AttributeValue: {{N:1}}, upper bound operand: \
                 AttributeValue: {{S:a}}"
            ),
        ),
        (
            "a between :v and :a".into(),
            format!(
                "{p}The BETWEEN operator requires upper bound to be greater than or equal to \
                 lower bound; lower bound operand: AttributeValue: {{S:x}}, upper bound \
                 operand: AttributeValue: {{S:a}}"
            ),
        ),
        (
            "attribute_type(a, :bad)".into(),
            format!(
                "{p}Invalid attribute type name found; type: XX, valid types: \
                 {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
            ),
        ),
        (
            "attribute_type(a, :n)".into(),
            format!(
                "{p}Incorrect operand type for operator or function; operator or function: \
                 attribute_type, operand type: N"
            ),
        ),
        (
            "attribute_exists(:v)".into(),
            format!(
                "{p}Operator or function requires a document path; operator or function: \
                 attribute_exists"
            ),
        ),
        (
            "begins_with(a, :n)".into(),
            format!(
                "{p}Incorrect operand type for operator or function; operator or function: \
                 begins_with, operand type: N"
            ),
        ),
        (
            "size(size(a)) > :n".into(),
            format!(
                "{p}Incorrect operand type for operator or function; operator or function: size, \
                 operand type: N"
            ),
        ),
        (
            "attribute_exists(a, b)".into(),
            format!(
                "{p}Incorrect number of operands for operator or function; operator or \
                 function: attribute_exists, number of operands: 2"
            ),
        ),
        (
            "a[99999999999] = :v".into(),
            format!("{p}List index is not within the allowable range; index: [99999999999]"),
        ),
    ];
    for (text, expected) in cases {
        check(&text, &expected);
    }
}

#[test]
fn limits_are_enforced_with_dynamodb_messages() {
    let p = "Invalid ConditionExpression: ";
    let long = format!("a = :v{}", " ".repeat(4091));
    check(
        &long,
        &format!("{p}Expression size has exceeded the maximum allowed size; expression size: 4097"),
    );
    let at_limit = format!("a = :v{}", " ".repeat(4090));
    assert!(condition_with(&at_limit, &[], &[(":v", s("x"))]).is_ok());

    let in_list = format!("a IN ({})", vec![":v"; 101].join(", "));
    check(
        &in_list,
        &format!("{p}The IN operator is provided with too many operands; number of operands: 101"),
    );
    let hundred = format!("a IN ({})", vec![":v"; 100].join(", "));
    assert!(condition_with(&hundred, &[], &[(":v", s("x"))]).is_ok());

    let operators = format!("a < b{}", " or a < b".repeat(150));
    check(
        &operators,
        &format!("{p}The expression contains too many operators; operator count: 301"),
    );
    let fewer = format!("a < b{}", " or a < b".repeat(149));
    assert!(condition_with(&fewer, &[], &[]).is_ok());

    let deep = format!("attribute_exists({})", vec!["x"; 33].join("."));
    check(
        &deep,
        &format!("{p}The document path has too many nesting levels; nesting levels: 33"),
    );
    let deep_ok = format!("attribute_exists({})", vec!["x"; 32].join("."));
    assert!(condition_with(&deep_ok, &[], &[]).is_ok());

    let nested = format!("{}a = :v{}", "(".repeat(300), ")".repeat(300));
    check(
        &nested,
        &format!("{p}The expression has too many nesting levels; nesting levels: 257"),
    );
}

fn sample_item() -> Item {
    item(&[
        ("a", n("1")),
        ("s", s("hello")),
        ("bin", b(&[1, 2, 3])),
        ("l", l(vec![n("1"), s("x")])),
        ("m", m(&[("k", s("v")), ("n", l(vec![n("1"), n("2")]))])),
        ("ss", ss(&["x", "y"])),
        ("ns", ns(&["1", "2"])),
        ("t", AttributeValue::Bool(true)),
        ("nul", AttributeValue::Null),
        ("dot.name", s("dotted")),
    ])
}

fn eval_values() -> Vec<(&'static str, AttributeValue)> {
    vec![
        (":zero", n("0")),
        (":one", n("1")),
        (":two", n("2")),
        (":five", n("5")),
        (":s1", s("1")),
        (":z", s("z")),
        (":he", s("he")),
        (":hello", s("hello")),
        (":nope", s("nope")),
        (":ell", s("ell")),
        (":x", s("x")),
        (":k", s("k")),
        (":v", s("v")),
        (":b12", b(&[1, 2])),
        (":SS", s("SS")),
        (":NULL", s("NULL")),
        (":dotted", s("dotted")),
        (":list", l(vec![n("1"), s("x")])),
        (":set", ss(&["y", "x"])),
    ]
}

fn evaluates(text: &str, expected: bool) {
    let name_map = names(&[("#d", "dot.name"), ("#m", "m"), ("#k", "k")]);
    let value_map = item(&eval_values());
    let mut subs = Substitutions::new(Some(&name_map), Some(&value_map));
    let condition = parse_condition(text, ExpressionKind::Filter, &mut subs)
        .unwrap_or_else(|e| panic!("{text}: {}", e.message));
    assert_eq!(condition.evaluate(&sample_item()), expected, "{text}");
}

#[test]
fn comparisons_follow_type_rules() {
    evaluates("a = :one", true);
    evaluates("a = :s1", false);
    evaluates("a <> :s1", true);
    evaluates("q = :one", false);
    evaluates("q <> :one", true);
    evaluates("q <> z", true);
    evaluates("q = z", false);
    evaluates("q < z", false);
    evaluates("l = :list", true);
    evaluates("ss = :set", true);
    evaluates("a < :two", true);
    evaluates("a <= :one", true);
    evaluates("a > :zero", true);
    evaluates("a >= :two", false);
    evaluates("s < :z", true);
    evaluates("a < :z", false);
    evaluates(":z > s", true);
    evaluates("bin > :b12", true);
    evaluates("l < :one", false);
}

#[test]
fn between_in_and_functions() {
    evaluates("a BETWEEN :one AND :two", true);
    evaluates("a between :zero and :zero", false);
    evaluates("q BETWEEN :one AND :two", false);
    evaluates("l BETWEEN :one AND :two", false);
    evaluates("a IN (:two, :one)", true);
    evaluates("a IN (:two)", false);
    evaluates("q IN (:one)", false);
    evaluates("attribute_exists(m.k)", true);
    evaluates("attribute_exists(m.z)", false);
    evaluates("attribute_exists(l[1])", true);
    evaluates("attribute_exists(l[2])", false);
    evaluates("attribute_exists(m[0])", false);
    evaluates("attribute_not_exists(q)", true);
    evaluates("attribute_not_exists(a)", false);
    evaluates("attribute_type(ss, :SS)", true);
    evaluates("attribute_type(a, :SS)", false);
    evaluates("attribute_type(nul, :NULL)", true);
    evaluates("begins_with(s, :he)", true);
    evaluates("begins_with(a, :he)", false);
    evaluates("begins_with(bin, :b12)", true);
    evaluates("contains(s, :ell)", true);
    evaluates("contains(ss, :x)", true);
    evaluates("contains(ns, :one)", true);
    evaluates("contains(l, :x)", true);
    evaluates("contains(m, :k)", false);
    evaluates("contains(q, :x)", false);
    evaluates("size(s) = :five", true);
    evaluates("size(l) = :two", true);
    evaluates("size(m) = :two", true);
    evaluates("size(bin) > :two", true);
    evaluates("size(a) = :one", false);
    evaluates("size(q) = :zero", false);
    evaluates("size(q) <> :zero", false);
    evaluates("size(a) <> :zero", false);
}

#[test]
fn logic_precedence_and_paths() {
    evaluates("NOT a = :one", false);
    evaluates("a = :one AND s = :hello", true);
    evaluates("a = :two OR s = :hello", true);
    // OR binds looser than AND: true OR (false AND false).
    evaluates("a = :one OR a = :two AND s = :nope", true);
    // NOT binds tighter than AND: (NOT true) AND false.
    evaluates("NOT a = :one AND a = :two", false);
    evaluates("NOT (a = :one AND a = :two)", true);
    evaluates("(a)between(:zero)and(:two)", true);
    evaluates("m.n[1] = :two", true);
    evaluates("#m.#k = :v", true);
    evaluates("#d = :dotted", true);
    evaluates("not not a = :one", true);
    evaluates(
        "a = :one and (s = :nope or (t = :one or a in (:one)))",
        true,
    );
}

#[test]
fn missing_item_means_every_attribute_absent() {
    let condition = condition_with("attribute_not_exists(pk)", &[], &[]).expect("parses");
    assert!(condition.evaluate_opt(None));
    let condition = condition_with("pk <> :v", &[], &[(":v", s("x"))]).expect("parses");
    assert!(condition.evaluate_opt(None));
    let condition = condition_with("pk = :v", &[], &[(":v", s("x"))]).expect("parses");
    assert!(!condition.evaluate_opt(None));
}

#[test]
fn key_attribute_rules() {
    let condition = condition_with("attribute_exists(pk) AND a.b = :v", &[], &[(":v", s("x"))])
        .expect("parses");
    let heads: Vec<&str> = condition.paths().iter().map(|p| p.head()).collect();
    assert_eq!(heads, vec!["pk", "a"]);
    assert!(condition.check_key_attributes(&["pk"], false).is_ok());
    assert_eq!(
        condition
            .check_key_attributes(&["pk"], true)
            .unwrap_err()
            .message,
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: pk"
    );
    assert_eq!(
        condition
            .check_key_attributes(&["a"], false)
            .unwrap_err()
            .message,
        "Key attributes must be scalars; list random access '[]' and map lookup '.' are not \
         allowed: Key: a"
    );
}

/// Each expression must fail with a message starting with `prefix` (compatibility corpus of
/// expressions known to be rejected by DynamoDB).
fn rejects_all(expressions: &[&str], prefix: &str) {
    for text in expressions {
        let name_map = names(&[("#a", "a")]);
        let value_map = item(&[(":a", s("1")), (":things", s("t"))]);
        let mut subs = Substitutions::new(Some(&name_map), Some(&value_map));
        let message = parse_condition(text, ExpressionKind::Filter, &mut subs)
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(message.starts_with(prefix), "{text}: {message}");
    }
}

#[test]
fn known_rejections() {
    rejects_all(
        &[
            "things are not gonna be ok",
            "a > 4",
            "attribute_exists(Pictures-RearView)",
            "attribute_exists(\"Pictures.RearView\")",
            "attribute_exists(Pictures..RearView)",
            "attribute_exists(Pi#ctures.RearView)",
            "attribute_exists(asdf[a])",
            "a.:a < b.:b",
            "a in b, c",
            "a > between",
            "a in (b,c,)",
            "(a)between(b.(c.d))and(c)",
            "(a)between(b.c.d)and((c)",
            "#$.b > a",
            "a > :things.stuff",
            "b[:a] > a",
            "b[#_] > a",
            "ü > a",
            "(a)between(b.c[4.5].#d)and(:a)",
            "size(a).b > a",
            "(size(a)).b > a",
            "size(a)[0] > a",
            "(size(a))[0] > a",
        ],
        "Invalid FilterExpression: Syntax error; ",
    );
    rejects_all(
        &[
            "a=a and a > ((views))",
            "(a)between(((b.c)).d)and(c)",
            "a > whatever((:things), ((a)))",
            "a=a AND ((a=a AND a=a)) AND a=a",
            "a=a OR ((a=a OR (a=a OR a=a)))",
        ],
        "Invalid FilterExpression: The expression has redundant parentheses;",
    );
    rejects_all(
        &[
            "a=a and whatever((:things)) > a",
            "attRIbute_exIsts((views), #a)",
        ],
        "Invalid FilterExpression: Invalid function name; function: ",
    );
    rejects_all(
        &[
            "a=a and attribute_exists((views), (#a)) > b",
            "attribute_not_exists(things) > b",
            "begins_with(things, a) > b",
            "size(contains(a, b)) > a",
            "a between b and attribute_exists(things)",
            "a in (b, attribute_exists(things))",
        ],
        "Invalid FilterExpression: The function is not allowed to be used this way",
    );
    rejects_all(
        &[
            "attribute_exists(#Pictures.RearView, :a) and a=a",
            "(a)between(b.c[45].#d)and(:a)",
            "#4g > a",
        ],
        "Invalid FilterExpression: An expression attribute name used in the document path is \
         not defined",
    );
    rejects_all(
        &[
            "attribute_type(a, size(a)) and a=a and a=:a",
            "begins_with(a, size(a)) and a=:a",
        ],
        "Invalid FilterExpression: Incorrect operand type for operator or function; operator or \
         function: ",
    );
}
