//! What one principal may ask for: rate limits on the routes that cost the server work, per
//! user and per service, with `governor`'s keyed limiters (the generic cell rate algorithm: a
//! rate, and bursts of as many), and the per-user caps on event streams and tickets that
//! `events.rs` keeps.
//!
//! A handler calls [`Limits::check`] right after it has authenticated its caller, before any
//! work: `state.limits().check(&caller, Costly::Search)?`. Past a limit the answer is 429
//! `rate_limited` with `Retry-After`, the whole seconds until the next request would pass.
//! Every route has a bucket of its own per user; a service (a token with the service scope) has
//! one bucket, at its own, higher rate, whatever it calls.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};

use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::identity::Caller;
use crate::refusal::ApiError;

/// The default of [`Quotas::streams_per_user`]: a person with 16 tabs open.
pub const DEFAULT_STREAMS_PER_USER: u32 = 16;
/// The default of [`Quotas::tickets_per_user`].
pub const DEFAULT_TICKETS_PER_USER: u32 = 16;
/// The default of [`Quotas::search_per_second`].
pub const DEFAULT_SEARCH_PER_SECOND: NonZeroU32 = per_second(20);
/// The default of [`Quotas::check_per_second`].
pub const DEFAULT_CHECK_PER_SECOND: NonZeroU32 = per_second(50);
/// The default of [`Quotas::admin_per_second`].
pub const DEFAULT_ADMIN_PER_SECOND: NonZeroU32 = per_second(5);
/// The default of [`Quotas::action_per_second`]: well above what a person clicks, types or
/// uploads in a second (a few), with room for several tabs and the app's retries; far below
/// what a script needs to fill the log with revisions and content.
pub const DEFAULT_ACTION_PER_SECOND: NonZeroU32 = per_second(20);
/// The default of [`Quotas::service_per_second`].
pub const DEFAULT_SERVICE_PER_SECOND: NonZeroU32 = per_second(2000);
/// `n`, or 1 for 0: for the constants above.
const fn per_second(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(n) => n,
        None => NonZeroU32::MIN,
    }
}

/// How many checks pass between two purges of the buckets of principals gone quiet.
const PURGE_EVERY: u32 = 4096;

/// What one principal may ask for; [`Quotas::default`] is what `tessera serve` uses unless told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Event streams one user may hold open at once.
    pub streams_per_user: u32,
    /// Event tickets one user may hold unspent at once.
    pub tickets_per_user: u32,
    /// Searches per user per second (and bursts of as many).
    pub search_per_second: NonZeroU32,
    /// Calls of `/api/check` per user per second (and bursts of as many).
    pub check_per_second: NonZeroU32,
    /// Edits, previews and denials per user per second, each route its own bucket.
    pub admin_per_second: NonZeroU32,
    /// Requests per service per second, on whatever costly route it calls.
    pub service_per_second: NonZeroU32,
    /// The app's actions per user per second (`POST /api/projects`, …: every route of
    /// `actions.rs` that writes), all in one bucket (and bursts of as many).
    pub action_per_second: NonZeroU32,
}

impl Default for Quotas {
    fn default() -> Quotas {
        Quotas {
            streams_per_user: DEFAULT_STREAMS_PER_USER,
            tickets_per_user: DEFAULT_TICKETS_PER_USER,
            search_per_second: DEFAULT_SEARCH_PER_SECOND,
            check_per_second: DEFAULT_CHECK_PER_SECOND,
            admin_per_second: DEFAULT_ADMIN_PER_SECOND,
            service_per_second: DEFAULT_SERVICE_PER_SECOND,
            action_per_second: DEFAULT_ACTION_PER_SECOND,
        }
    }
}

/// A route that costs the server work, rate-limited per principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Costly {
    /// `GET /api/search`.
    Search,
    /// `POST /api/check`.
    Check,
    /// `POST /api/admin/edits` (and the override switch, one edit).
    Edits,
    /// `POST /api/admin/preview`.
    Preview,
    /// `GET /api/admin/denials`.
    Denials,
    /// `GET /api/admin/revisions`.
    Revisions,
    /// One of the app's actions that writes (a Project, group, conversation, task, file, wiki
    /// text, message or announcement).
    Action,
}

impl Costly {
    /// Its name, as `tessera_limited_total` labels it.
    pub fn name(self) -> &'static str {
        match self {
            Costly::Search => "search",
            Costly::Check => "check",
            Costly::Edits => "edits",
            Costly::Preview => "preview",
            Costly::Denials => "denials",
            Costly::Revisions => "revisions",
            Costly::Action => "action",
        }
    }
}

/// The rate limiters of a server; see the module docs.
pub struct Limits {
    search: DefaultKeyedRateLimiter<String>,
    check: DefaultKeyedRateLimiter<String>,
    edits: DefaultKeyedRateLimiter<String>,
    preview: DefaultKeyedRateLimiter<String>,
    denials: DefaultKeyedRateLimiter<String>,
    revisions: DefaultKeyedRateLimiter<String>,
    actions: DefaultKeyedRateLimiter<String>,
    services: DefaultKeyedRateLimiter<String>,
    checks: AtomicU32,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits").finish_non_exhaustive()
    }
}

/// A request past its principal's rate: answered 429 with `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// The route.
    pub costly: Costly,
    /// Whole seconds until a request would pass (at least 1).
    pub retry_after: u32,
}

impl Limits {
    /// Limiters at `quotas`' rates.
    pub fn new(quotas: &Quotas) -> Limits {
        let keyed = |rate: NonZeroU32| DefaultKeyedRateLimiter::keyed(Quota::per_second(rate));
        Limits {
            search: keyed(quotas.search_per_second),
            check: keyed(quotas.check_per_second),
            edits: keyed(quotas.admin_per_second),
            preview: keyed(quotas.admin_per_second),
            denials: keyed(quotas.admin_per_second),
            revisions: keyed(quotas.admin_per_second),
            actions: keyed(quotas.action_per_second),
            services: keyed(quotas.service_per_second),
            checks: AtomicU32::new(0),
        }
    }

    /// Whether `caller` may make one more request of `costly` now; it counts if so.
    pub fn check(&self, caller: &Caller, costly: Costly) -> Result<(), Limited> {
        let limiter = if caller.service {
            &self.services
        } else {
            match costly {
                Costly::Search => &self.search,
                Costly::Check => &self.check,
                Costly::Edits => &self.edits,
                Costly::Preview => &self.preview,
                Costly::Denials => &self.denials,
                Costly::Revisions => &self.revisions,
                Costly::Action => &self.actions,
            }
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == 0 {
            self.purge();
        }
        limiter.check_key(&caller.user).map_err(|not_until| {
            crate::metrics::limited(costly.name());
            let wait = not_until.wait_time_from(limiter.clock().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            Limited { costly, retry_after: u32::try_from(seconds.max(1)).unwrap_or(u32::MAX) }
        })
    }

    /// Forgets the buckets that are full again: their principals are as if they had never
    /// asked, so memory grows with the principals active within a second or so, not with every
    /// one ever seen.
    fn purge(&self) {
        for limiter in [
            &self.search,
            &self.check,
            &self.edits,
            &self.preview,
            &self.denials,
            &self.revisions,
            &self.actions,
            &self.services,
        ] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

impl From<Limited> for ApiError {
    fn from(limited: Limited) -> ApiError {
        ApiError::too_many(
            "rate_limited",
            format!(
                "too many requests of {} from one caller: ask again in {} s",
                limited.costly.name(),
                limited.retry_after
            ),
            limited.retry_after,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(user: &str, service: bool) -> Caller {
        Caller { user: user.to_owned(), expires: u64::MAX, service }
    }

    #[test]
    fn each_principal_has_its_own_buckets() {
        let quotas = Quotas {
            search_per_second: NonZeroU32::MIN.saturating_add(2),
            service_per_second: NonZeroU32::MIN.saturating_add(9),
            ..Quotas::default()
        };
        let limits = Limits::new(&quotas);
        let ada = caller("u-ada", false);
        for _ in 0..3 {
            assert_eq!(limits.check(&ada, Costly::Search), Ok(()));
        }
        let limited = limits.check(&ada, Costly::Search).unwrap_err();
        assert_eq!(limited, Limited { costly: Costly::Search, retry_after: 1 });
        // Another user, another route, and a service of the same name are not held back.
        assert_eq!(limits.check(&caller("u-cleo", false), Costly::Search), Ok(()));
        assert_eq!(limits.check(&ada, Costly::Preview), Ok(()));
        for _ in 0..10 {
            assert_eq!(limits.check(&caller("u-ada", true), Costly::Search), Ok(()));
        }
        assert!(limits.check(&caller("u-ada", true), Costly::Check).is_err());
    }
}
