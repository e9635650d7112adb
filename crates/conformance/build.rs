//! Embeds every `tests/conformance/*.json` file, so that the corpus also reaches builds with no
//! file system (WebAssembly in a browser).

use std::fmt::Write as _;
use std::{env, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../tests/conformance");
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    let mut out =
        String::from("/// Every case file: (file name, contents).\npub const FILES: &[(&str, &str)] = &[\n");
    for name in &names {
        let path = dir.join(name).canonicalize()?;
        println!("cargo::rerun-if-changed={}", path.display());
        writeln!(out, "    ({name:?}, include_str!({:?})),", path.display().to_string())?;
    }
    out.push_str("];\n");

    // The hostile cases: each `NNN_name.snapshot` with its `NNN_name.json` expectation.
    let hostile = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("../../tests/hostile");
    println!("cargo::rerun-if-changed={}", hostile.display());
    let mut stems: Vec<String> = fs::read_dir(&hostile)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter_map(|name| name.strip_suffix(".snapshot").map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    stems.sort();
    out.push_str("/// Every hostile case: (stem, expectation JSON, bytes).\npub const HOSTILE: &[(&str, &str, &[u8])] = &[\n");
    for stem in &stems {
        let bytes = hostile.join(format!("{stem}.snapshot")).canonicalize()?;
        let expectation = hostile.join(format!("{stem}.json")).canonicalize()?;
        println!("cargo::rerun-if-changed={}", bytes.display());
        println!("cargo::rerun-if-changed={}", expectation.display());
        writeln!(
            out,
            "    ({stem:?}, include_str!({:?}), include_bytes!({:?})),",
            expectation.display().to_string(),
            bytes.display().to_string()
        )?;
    }
    out.push_str("];\n");
    fs::write(PathBuf::from(env::var("OUT_DIR")?).join("corpus.rs"), out)?;
    Ok(())
}
