//! Tidy checks run as tests, so `cargo test` keeps the code base in the shape STYLE.md asks.
//!
//! - Every Rust file opens with a `//!` doc saying what it owns.
//! - No line is longer than 100 columns.
//! - `unsafe` appears only in the allow-listed files, each of which argues its soundness.
//! - No bare `matches!(…);` statement (a check that cannot fail, as fjall once had).

use std::fs;
use std::path::{Path, PathBuf};

/// Files allowed to contain `unsafe` code, relative to the workspace root.
const UNSAFE_ALLOWED: &[&str] = &["log/src/segment/mmap.rs", "benches/src/alloc.rs"];

const LINE_COLUMNS_MAX: usize = 100;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives one level below the workspace root")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name.starts_with("target") || name.starts_with('.') {
                continue;
            }
            rust_files(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn workspace_rust_files() -> Vec<(String, String)> {
    let root = workspace_root();
    let mut files = Vec::new();
    for crate_dir in [
        "log",
        "engine",
        "net",
        "placement",
        "adapters",
        "benches",
        "tests",
    ] {
        rust_files(&root.join(crate_dir), &mut files);
    }
    assert!(
        !files.is_empty(),
        "tidy found no Rust files under {}",
        root.display()
    );
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).expect("read a workspace source file");
            let relative = path.strip_prefix(&root).unwrap_or(&path);
            (relative.to_string_lossy().into_owned(), text)
        })
        .collect()
}

fn is_code_line(line: &str) -> bool {
    let trimmed = line.trim_start();
    !(trimmed.starts_with("//") || trimmed.starts_with('*'))
}

#[test]
fn every_file_opens_with_a_module_doc() {
    let missing: Vec<String> = workspace_rust_files()
        .into_iter()
        .filter(|(_, text)| {
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            !first.starts_with("//!")
        })
        .map(|(path, _)| path)
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading `//!` doc: {missing:#?}"
    );
}

#[test]
fn no_line_is_longer_than_100_columns() {
    let mut long = Vec::new();
    for (path, text) in workspace_rust_files() {
        for (index, line) in text.lines().enumerate() {
            if line.chars().count() > LINE_COLUMNS_MAX {
                long.push(format!("{path}:{}", index + 1));
            }
        }
    }
    assert!(
        long.is_empty(),
        "lines over {LINE_COLUMNS_MAX} columns: {long:#?}"
    );
}

#[test]
fn unsafe_code_only_in_allow_listed_files() {
    let mut offenders = Vec::new();
    for (path, text) in workspace_rust_files() {
        if UNSAFE_ALLOWED.contains(&path.as_str()) || path.ends_with("tidy.rs") {
            continue;
        }
        for (index, line) in text.lines().enumerate() {
            let uses_unsafe = ["unsafe {", "unsafe impl", "unsafe fn", "unsafe extern"]
                .iter()
                .any(|needle| line.contains(needle));
            if is_code_line(line) && uses_unsafe {
                offenders.push(format!("{path}:{}", index + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "`unsafe` outside {UNSAFE_ALLOWED:?}: {offenders:#?}"
    );
}

#[test]
fn no_bare_matches_statement() {
    let mut offenders = Vec::new();
    for (path, text) in workspace_rust_files() {
        if path.ends_with("tidy.rs") {
            continue;
        }
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("matches!(") && trimmed.ends_with(");") {
                offenders.push(format!("{path}:{}", index + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "bare `matches!(…);` cannot fail, assert it: {offenders:#?}"
    );
}
