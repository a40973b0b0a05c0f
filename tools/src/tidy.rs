//! Repository hygiene checks (CONVENTIONS §4, §7, §13): every Rust file opens with a `//!`
//! module doc, every `unsafe` block carries a `// SAFETY:` comment, and no `dbg!`, `todo!`,
//! `unimplemented!` or fix-me marker is left in the code.
//!
//! Pure functions over file text plus a walker that lists the workspace's Rust files; the
//! test in `tools/tests/tidy.rs` turns their findings into a failure message.

use std::path::{Path, PathBuf};

/// One problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file, relative to the repository root.
    pub path: PathBuf,
    /// 1-based line number (0 for whole-file problems).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Checks the text of one Rust source file.
pub fn check_source(path: &Path, text: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let finding = |line: usize, message: &str| Finding {
        path: path.to_path_buf(),
        line,
        message: message.to_string(),
    };
    let first_code = text.lines().find(|l| !l.trim().is_empty());
    if !first_code.is_some_and(|l| l.trim_start().starts_with("//!")) {
        out.push(finding(0, "file does not start with a //! module doc"));
    }
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        // Spelled in pieces so this file does not trip its own check.
        for banned in [
            concat!("dbg", "!("),
            concat!("todo", "!("),
            concat!("unimplemented", "!("),
        ] {
            if code.contains(banned) {
                out.push(finding(i + 1, &format!("leftover {banned}")));
            }
        }
        if line.contains(concat!("FIX", "ME")) {
            out.push(finding(i + 1, "leftover fix-me marker"));
        }
        if code.contains(concat!("unsafe", " {")) && !has_safety_comment(&lines, i) {
            out.push(finding(
                i + 1,
                "unsafe block without a // SAFETY: comment above it",
            ));
        }
    }
    out
}

fn has_safety_comment(lines: &[&str], at: usize) -> bool {
    lines[..at]
        .iter()
        .rev()
        .take(6)
        .take_while(|l| {
            let t = l.trim_start();
            t.starts_with("//") || t.is_empty() || !t.contains(';')
        })
        .any(|l| l.contains("SAFETY:"))
}

/// Every `.rs` file under the workspace crates, skipping build output and fuzz corpora.
pub fn rust_files(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if entry.file_type()?.is_dir() {
                let skip = name.starts_with('.')
                    || ["target", "corpus", "artifacts", "shoal-data"].contains(&name.as_ref());
                if !skip {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_missing_doc_and_leftovers() {
        let p = Path::new("x.rs");
        assert!(check_source(p, "//! doc\nfn f() {}\n").is_empty());
        let bad = check_source(p, concat!("fn f() { dbg", "!(1); }\n"));
        assert_eq!(bad.len(), 2, "{bad:?}");
        let unsafe_bad = check_source(p, concat!("//! doc\nfn f() { unsafe", " { g() } }\n"));
        assert_eq!(unsafe_bad.len(), 1);
        let unsafe_ok = check_source(
            p,
            "//! doc\nfn f() {\n    // SAFETY: g is sound here.\n    unsafe { g() }\n}\n",
        );
        assert!(unsafe_ok.is_empty(), "{unsafe_ok:?}");
    }
}
