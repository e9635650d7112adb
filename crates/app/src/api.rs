//! The issuer's API as the app calls it: every request the app makes is built here, and
//! nothing here renders or holds a signal.
//!
//! Public calls ([`public_keys`], [`find_users`], [`sign_in`]) carry no token. Every other
//! call goes through a [`Client`]: the bearer token of the signed-in session and, once a
//! snapshot is held, its version in `Tessera-Snapshot-Version`, so that the server can tell a
//! client that acts on an older snapshot; every [`Answer`] carries the `ETag` and the
//! `Tessera-Revision` and `Tessera-Snapshot-Version` the server answered with. A 401 is an
//! ordinary answer here: ending the session is `state.rs`'s decision.
//!
//! The app's actions (`POST /api/projects`, `/api/projects/{p}/tasks`, …) go through
//! [`Client::act`], which sends an action's request (`crate::content::Act`) with its
//! `Idempotency-Key`; the lists they are read back from, through [`Client::get`].

use tessera_core::Edit;

use crate::admin::{self, EditBatch, Refused};
#[cfg(doc)]
use crate::admin::{Applied, Denials, Preview};
use crate::browser::{self, BrowserError, Method};
use crate::content::{Pending, Verb};
use crate::search;
use crate::session::DemoUser;

/// The request header that names the version of the snapshot the app holds.
pub const SNAPSHOT_VERSION_HEADER: &str = "Tessera-Snapshot-Version";
/// The answer header that names the revision that decided.
pub const REVISION_HEADER: &str = "Tessera-Revision";

/// What the server answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `ETag`, if any.
    pub etag: Option<String>,
    /// `Tessera-Revision`: the revision that decided, if the answer depends on the policy.
    #[expect(
        dead_code,
        reason = "the app follows snapshot versions; the revision is for people reading the network log"
    )]
    pub revision: Option<u64>,
    /// `Tessera-Snapshot-Version`: the version of the snapshot the server issues the caller
    /// now. Newer than the one held: fetch the snapshot again.
    pub snapshot_version: Option<u64>,
    /// The body.
    pub body: String,
}

impl From<browser::Fetched> for Answer {
    fn from(fetched: browser::Fetched) -> Answer {
        let number = |name: &str| {
            fetched
                .headers
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.parse().ok())
        };
        Answer {
            status: fetched.status,
            etag: fetched.etag.clone(),
            revision: number(REVISION_HEADER),
            snapshot_version: number(SNAPSHOT_VERSION_HEADER),
            body: fetched.body,
        }
    }
}

/// A signed-in caller: the `Authorization` value and the version of the snapshot held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// `Bearer …`.
    pub authorization: String,
    /// The version of the snapshot the app decides with, sent with every call.
    pub snapshot_version: Option<u64>,
}

impl Client {
    /// Sends a request with the token, the held snapshot's version and `extra`, a header of
    /// its own (`If-None-Match`, `Idempotency-Key`).
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&str>,
        extra: Option<(&str, &str)>,
    ) -> Result<Answer, BrowserError> {
        let version = self.snapshot_version.map(|version| version.to_string());
        let mut headers: Vec<(&str, &str)> = vec![("Authorization", self.authorization.as_str())];
        if let Some(version) = &version {
            headers.push((SNAPSHOT_VERSION_HEADER, version.as_str()));
        }
        headers.extend(extra);
        browser::request(method, url, body, &headers).await.map(Answer::from)
    }

    /// GETs `url`.
    pub async fn get(&self, url: &str) -> Result<Answer, BrowserError> {
        self.send(Method::Get, url, None, None).await
    }

    /// POSTs `body` as JSON to `url`.
    pub async fn post(&self, url: &str, body: &str) -> Result<Answer, BrowserError> {
        self.send(Method::Post, url, Some(body), None).await
    }

    /// Sends `pending`'s action: its request, with its `Idempotency-Key`.
    pub async fn act(&self, pending: &Pending) -> Result<Answer, BrowserError> {
        let method = match pending.act.verb() {
            Verb::Post => Method::Post,
            Verb::Put => Method::Put,
        };
        let body = pending.act.body();
        self.send(method, &pending.act.path(), Some(&body), Some(("Idempotency-Key", pending.key.as_str())))
            .await
    }

    /// `GET /api/snapshot`: the caller's snapshot, or a 304 for `etag`.
    pub async fn snapshot(&self, etag: Option<&str>) -> Result<Answer, BrowserError> {
        self.send(Method::Get, "/api/snapshot", None, etag.map(|etag| ("If-None-Match", etag))).await
    }

    /// `GET /api/search?q=…&limit=…`.
    pub async fn search(&self, text: &str, limit: Option<usize>) -> Result<Answer, BrowserError> {
        let mut url = format!("/api/search?q={}", encode(text));
        if let Some(limit) = limit {
            url.push_str(&format!("&limit={limit}"));
        }
        self.get(&url).await
    }

    /// `POST /api/events/ticket`.
    pub async fn events_ticket(&self) -> Result<Answer, BrowserError> {
        self.post("/api/events/ticket", "{}").await
    }

    /// `POST /api/admin/preview`: the impact of `edits`, applying nothing ([`Preview`]).
    pub async fn preview(&self, edits: &[Edit]) -> Result<Answer, BrowserError> {
        let body = serde_json::to_string(&EditBatch { edits, expect_revision: None }).unwrap_or_default();
        self.post("/api/admin/preview", &body).await
    }

    /// `POST /api/admin/edits`: makes `edits`, on `expect_revision` when they were previewed
    /// ([`Applied`]).
    pub async fn apply(&self, edits: &[Edit], expect_revision: Option<u64>) -> Result<Answer, BrowserError> {
        let body = serde_json::to_string(&EditBatch { edits, expect_revision }).unwrap_or_default();
        self.post("/api/admin/edits", &body).await
    }

    /// `GET /api/admin/denials?user=…`: `user`'s denied actions, with suggestions
    /// ([`Denials`]).
    pub async fn denials(&self, user: &str) -> Result<Answer, BrowserError> {
        self.get(&format!("/api/admin/denials?user={}", encode(user))).await
    }
}

/// A 200's JSON as `T`; anything else as the refusal it carries.
pub fn read<T: serde::de::DeserializeOwned>(answer: &Answer) -> Result<T, Refused> {
    read_body(answer.status, &answer.body)
}

/// An answer's `body` as `T` when `status` is 200; anything else as the refusal it carries.
pub fn read_body<T: serde::de::DeserializeOwned>(status: u16, body: &str) -> Result<T, Refused> {
    if status != 200 {
        return Err(admin::refused(status, body));
    }
    serde_json::from_str(body).map_err(|_| admin::refused(status, ""))
}

/// The refusal for a call that reached nobody.
pub fn unreachable(error: BrowserError) -> Refused {
    Refused {
        code: "network".into(),
        message: format!("The server could not be reached ({}).", error.0),
        decision_message: None,
    }
}

/// `text` as a URL component.
pub fn encode(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}

/// `GET /api/public-keys`.
pub async fn public_keys() -> Result<Answer, BrowserError> {
    browser::request(Method::Get, "/api/public-keys", None, &[]).await.map(Answer::from)
}

/// `GET /api/users?q=…&limit=…` (the demo's sign-in lookup): the active users whose name or
/// id holds what was typed, best first.
pub async fn find_users(text: &str, limit: usize) -> Result<Vec<DemoUser>, BrowserError> {
    #[derive(serde::Deserialize)]
    struct Found {
        users: Vec<DemoUser>,
    }
    let url = format!("/api/users?q={}&limit={limit}", encode(text));
    let answer = browser::request(Method::Get, &url, None, &[]).await?;
    if answer.status != 200 {
        return Err(BrowserError(format!("the server answered {}", answer.status)));
    }
    serde_json::from_str::<Found>(&answer.body)
        .map(|found| found.users)
        .map_err(|error| BrowserError(format!("the user list could not be read: {error}")))
}

/// `POST /api/demo/sign-in` for `user`.
pub async fn sign_in(user: &str) -> Result<Answer, BrowserError> {
    let body = format!("{{\"user\":{}}}", serde_json::to_string(user).unwrap_or_default());
    browser::request(Method::Post, "/api/demo/sign-in", Some(&body), &[]).await.map(Answer::from)
}

/// The search answer in `answer`, if it is one.
pub fn search_results(answer: &Answer) -> Option<search::Response> {
    (answer.status == 200).then(|| serde_json::from_str(&answer.body).ok()).flatten()
}
