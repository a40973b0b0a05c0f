//! What commands print: JSON documents on stdout, pretty on a terminal and one line
//! otherwise (so scripts can read one document per command).
//!
//! Invariant: exactly one JSON document per successful item or table command.
//! Does not print errors (`main` does, on stderr).

use std::io::{IsTerminal, Write};

use serde_json::{Map, Value};

/// Prints one JSON document.
pub fn print_json(value: &Value) {
    let mut stdout = std::io::stdout().lock();
    let text = if stdout.is_terminal() {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    let text = text.expect("a JSON value always serialises");
    // A closed stdout (e.g. `| head`) is not a failure of the command.
    let _ = writeln!(stdout, "{text}");
}

/// An object from `(key, value)` pairs, skipping absent values.
pub fn object<const N: usize>(pairs: [(&str, Option<Value>); N]) -> Value {
    let mut map = Map::new();
    for (key, value) in pairs {
        if let Some(value) = value {
            map.insert(key.to_owned(), value);
        }
    }
    Value::Object(map)
}
