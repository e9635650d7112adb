//! Tidy checks: the project's habits, as tests, so that `cargo test` keeps them.

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::{Path, PathBuf};

    use crate::root;

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if name == "target" || name == "node_modules" || name.to_string_lossy().starts_with('.') {
                continue;
            }
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// Every Rust file opens with a `//!` comment that says what it is for.
    #[test]
    fn every_rust_file_says_what_it_is_for() {
        let mut files = Vec::new();
        rust_files(&root().join("crates"), &mut files);
        assert!(files.len() > 10, "found only {} files", files.len());
        let undocumented: Vec<String> = files
            .iter()
            .filter(|path| !fs::read_to_string(path).unwrap_or_default().starts_with("//!"))
            .map(|path| path.display().to_string())
            .collect();
        assert!(undocumented.is_empty(), "files without a `//!` first line: {undocumented:?}");
    }

    /// The README names the two commands that set everything up, and CI runs the test one.
    #[test]
    fn the_readme_and_ci_agree() {
        let readme = fs::read_to_string(root().join("README.md")).unwrap_or_default();
        assert!(readme.contains("cargo xtask test"), "README.md must name `cargo xtask test`");
        assert!(readme.contains("cargo xtask demo"), "README.md must name `cargo xtask demo`");
        let ci = fs::read_to_string(root().join(".ci/run")).unwrap_or_default();
        assert!(ci.contains("cargo xtask test"), ".ci/run must call `cargo xtask test`");
    }

    /// The whole organisation must never reach a browser: nothing under `www/` may hold one.
    #[test]
    fn no_organisation_is_served_statically() {
        let www = root().join("www");
        let mut stack = vec![www];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = fs::read_to_string(&path).unwrap_or_default();
                assert!(
                    !(text.contains("\"networks\"") && text.contains("\"offices\"")),
                    "{} looks like an organisation; only per-user snapshots may reach a browser",
                    path.display()
                );
            }
        }
    }
}
