//! Tidy checks on the engine's own sources: every file opens with a `//!` doc, lines stay
//! within 100 columns, files stay under 600 lines, and no `unsafe` block, fn or impl
//! appears. The journaling work's files (`src/journal/`, `tests/journal*`, its `bank`
//! example) are written and checked by their owner.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("journal") || name == "bank.rs" {
            continue;
        }
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn engine_sources_are_tidy() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "examples"] {
        sources(&root.join(dir), &mut files);
    }
    assert!(files.len() > 10, "found only {files:?}");
    let mut problems = Vec::new();
    let forbidden: Vec<String> = ["{", "fn ", "impl"]
        .iter()
        .map(|tail| ["un", "safe ", tail].concat())
        .collect();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let name = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        if !text.starts_with("//!") {
            problems.push(format!("{name}: no leading //! doc"));
        }
        let lines = text.lines().count();
        if lines > 600 {
            problems.push(format!("{name}: {lines} lines"));
        }
        for (n, line) in text.lines().enumerate() {
            if line.chars().count() > 100 {
                problems.push(format!("{name}:{}: over 100 columns", n + 1));
            }
            let code = line.split("//").next().unwrap_or("");
            if forbidden.iter().any(|word| code.contains(word.as_str())) {
                problems.push(format!("{name}:{}: unsafe code", n + 1));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
