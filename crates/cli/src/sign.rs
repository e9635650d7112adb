//! `tessera sign`: read an organisation, validate it, cut it to a scope and sign it.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
pub(crate) use tessera_server::source::{parse_org, read_org};

use anyhow::{Context as _, anyhow, bail};
use tessera_core::{Header, Policy, SCHEMA_VERSION, Scope, ValidationError, ValidationErrors, cut};

use crate::args::SignArgs;
use crate::keys::read_secret_key;
use crate::{Status, now_or_clock};

/// An organisation refused as inconsistent (at signing, or by `diff`). Its message is one line;
/// [`crate::render_error`] adds one line per problem under it.
#[derive(Debug)]
pub struct InvalidOrg {
    /// What was refused: `refusing to sign`, `cannot diff`.
    action: &'static str,
    path: PathBuf,
    errors: ValidationErrors,
}

impl InvalidOrg {
    pub(crate) fn new(action: &'static str, path: &Path, errors: ValidationErrors) -> InvalidOrg {
        InvalidOrg { action, path: path.to_owned(), errors }
    }

    /// Every problem, in the order found.
    pub fn problems(&self) -> &[ValidationError] {
        self.errors.errors()
    }
}

impl fmt::Display for InvalidOrg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.errors.errors().len();
        write!(
            f,
            "{} `{}`: {count} problem{} in the organisation",
            self.action,
            self.path.display(),
            if count == 1 { "" } else { "s" }
        )
    }
}

// No `source()`: the problems are listed on lines of their own, not folded into the chain.
impl std::error::Error for InvalidOrg {}

pub(crate) fn sign(args: &SignArgs, out: &mut dyn Write) -> anyhow::Result<Status> {
    let now = now_or_clock(args.now.as_deref())?;
    let lifetime = parse_duration(&args.expires_in).context("invalid value for --expires-in")?;
    let scope = Scope::parse(&args.scope).ok_or_else(|| {
        anyhow!("invalid value for --scope: `{}` is not org, user:ID or network:ID", args.scope)
    })?;
    let secret_key = read_secret_key(&args.key)?;
    let org = read_org(&args.org)?;
    if let Err(errors) = Policy::new(&org) {
        return Err(InvalidOrg::new("refusing to sign", &args.org, errors).into());
    }
    let scoped = cut(&org, &scope, now)?;
    let header = Header {
        schema: SCHEMA_VERSION,
        issuer: args.issuer.clone(),
        version: args.version,
        issued_at: now,
        expires_at: now.plus_seconds(lifetime),
        scope,
    };
    let envelope = tessera_core::sign(&scoped, &header, &[&secret_key])?;
    std::fs::write(&args.out, &envelope).with_context(|| format!("cannot write `{}`", args.out.display()))?;
    writeln!(
        out,
        "signed `{}`: scope {}, version {}, expires {}, key id {}, {} bytes",
        args.out.display(),
        header.scope,
        header.version,
        header.expires_at,
        secret_key.public_key().key_id(),
        envelope.len()
    )?;
    Ok(Status::Success)
}

/// Seconds in `text`: a positive whole number followed by `s`, `m`, `h` or `d` (`30m`, `24h`,
/// `7d`).
pub fn parse_duration(text: &str) -> anyhow::Result<i64> {
    let not_a_duration = || anyhow!("`{text}` is not a duration such as `30m`, `24h` or `7d`");
    let Some(unit) = text.chars().last() else { return Err(not_a_duration()) };
    let unit_seconds: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 60 * 60,
        'd' => 24 * 60 * 60,
        _ => return Err(not_a_duration()),
    };
    let digits = text.strip_suffix(unit).unwrap_or_default();
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(not_a_duration());
    }
    let count: i64 = digits.parse().map_err(|_| anyhow!("`{text}` is too long a duration"))?;
    if count == 0 {
        bail!("`{text}` is not a positive duration");
    }
    count.checked_mul(unit_seconds).ok_or_else(|| anyhow!("`{text}` is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m").unwrap(), 1800);
        assert_eq!(parse_duration("24h").unwrap(), 86_400);
        assert_eq!(parse_duration("7d").unwrap(), 604_800);
        assert_eq!(parse_duration("45s").unwrap(), 45);
        for bad in ["", "h", "10", "1.5h", "-1h", "+1h", "1w", "0h", "99999999999999999999d", "１h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
