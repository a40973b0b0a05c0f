//! Repository checks as a test: module docs, SAFETY comments, no leftovers (CONVENTIONS §4).

use std::path::Path;

use shoal_tools::tidy::{check_source, rust_files};

#[test]
fn every_rust_file_is_tidy() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut problems = Vec::new();
    for path in rust_files(&root).expect("walk the repository") {
        let text = std::fs::read_to_string(&path).expect("read a source file");
        let rel = path.strip_prefix(&root).unwrap_or(&path);
        problems.extend(check_source(rel, &text));
    }
    let report: Vec<String> = problems
        .iter()
        .map(|f| format!("{}:{}: {}", f.path.display(), f.line, f.message))
        .collect();
    assert!(
        report.is_empty(),
        "tidy found problems:\n{}",
        report.join("\n")
    );
}
