//! `tessera keygen`, and reading key files for the other commands.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use tessera_core::{PublicKey, SecretKey, TrustedKeys};

use crate::args::KeygenArgs;
use crate::{Status, read_text};

/// Writes a new key pair: the secret key to `--out` (mode 0600 on unix), the public key next
/// to it with `.pub` appended.
pub(crate) fn keygen(args: &KeygenArgs, out: &mut dyn Write) -> anyhow::Result<Status> {
    let secret_path = &args.out;
    let public_path = public_path_of(secret_path);
    if !args.force {
        for path in [secret_path, &public_path] {
            if path.exists() {
                bail!("`{}` already exists; pass --force to overwrite it", path.display());
            }
        }
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("cannot get random bytes: {e}"))?;
    let secret_key = SecretKey::from_bytes(bytes);
    let public_key = secret_key.public_key();

    write_new(secret_path, secret_key.to_text().as_bytes(), FileKind::Secret, args.force)?;
    write_new(&public_path, public_key.to_text().as_bytes(), FileKind::Public, args.force)?;

    writeln!(out, "key id: {}", public_key.key_id())?;
    writeln!(out, "secret key: {} (keep it private)", secret_path.display())?;
    writeln!(out, "public key: {}", public_path.display())?;
    Ok(Status::Success)
}

/// `KEY.pub` for `KEY`.
pub(crate) fn public_path_of(secret_path: &Path) -> PathBuf {
    let mut name = OsString::from(secret_path.as_os_str());
    name.push(".pub");
    PathBuf::from(name)
}

/// Reads a secret key file.
pub(crate) fn read_secret_key(path: &Path) -> anyhow::Result<SecretKey> {
    let text = read_text(path)?;
    SecretKey::from_text(&text).with_context(|| format!("cannot read secret key `{}`", path.display()))
}

/// Reads every `--trust` file into one set of trusted keys.
pub(crate) fn read_trusted_keys(paths: &[PathBuf]) -> anyhow::Result<TrustedKeys> {
    let mut keys = TrustedKeys::new();
    for path in paths {
        let text = read_text(path)?;
        let key = PublicKey::from_text(&text)
            .with_context(|| format!("cannot read public key `{}`", path.display()))?;
        keys.add(key);
    }
    Ok(keys)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum FileKind {
    Secret,
    Public,
}

/// Creates `path` afresh and writes `contents`; with `replace`, an existing file is removed
/// first. A secret file is created readable by its owner only, so it is never, not even
/// briefly, readable by others.
fn write_new(path: &Path, contents: &[u8], kind: FileKind, replace: bool) -> anyhow::Result<()> {
    let cannot_write = || format!("cannot write `{}`", path.display());
    // Removing, rather than truncating, gives the new file the new mode even when the old one
    // was more open.
    if replace {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(cannot_write),
        }
    }
    let mut options = fs::OpenOptions::new();
    // Without `replace`, `create_new` also closes the race with a file that appeared since
    // the caller looked.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if kind == FileKind::Secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = kind;
    let mut file = options.open(path).with_context(cannot_write)?;
    file.write_all(contents).with_context(cannot_write)?;
    file.sync_all().with_context(cannot_write)
}
