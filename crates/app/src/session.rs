//! Who is signed in on this tab: the user and the bearer token the server gave them; and who
//! the demo's sign-in form offers ([`DemoUser`], [`matches`], [`chosen`]).
//!
//! Pure, tested natively. The demo signs in through `POST /api/demo/sign-in` (the stand-in for
//! an identity provider), which answers `{"token", "expires_at"}`; every API call but the
//! public keys, the sign-in list and sign-in itself then carries `Authorization: Bearer`.
//! `state.rs` keeps a session in the tab's session storage, so that it survives a reload of
//! the tab and ends with it, and never shares a token between tabs.

use serde::{Deserialize, Serialize};
use tessera_core::Timestamp;

use crate::wording;

/// A signed-in user and their token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The user the token names.
    pub user: String,
    /// The bearer token.
    pub token: String,
    /// When the token expires (the server refuses it after).
    pub expires_at: Timestamp,
}

#[derive(Deserialize)]
struct SignedIn {
    token: String,
    expires_at: Timestamp,
}

impl Session {
    /// The session for `user` from the body of a successful sign-in; `None` if it does not
    /// read as one.
    pub fn from_sign_in(user: &str, body: &str) -> Option<Session> {
        let signed_in: SignedIn = serde_json::from_str(body).ok()?;
        (!signed_in.token.is_empty()).then(|| Session {
            user: user.to_owned(),
            token: signed_in.token,
            expires_at: signed_in.expires_at,
        })
    }

    /// A session as stored; `None` if it does not read as one, or has expired at `now` (an
    /// expired token would only be refused).
    pub fn restore(json: &str, now: Timestamp) -> Option<Session> {
        serde_json::from_str::<Session>(json).ok().filter(|session| session.live(now))
    }

    /// Whether the token is still good at `now`, as far as the app can tell.
    pub fn live(&self, now: Timestamp) -> bool {
        now < self.expires_at && !self.user.is_empty() && !self.token.is_empty()
    }

    /// The `Authorization` header's value.
    pub fn authorization(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

/// A demo user, as the sign-in lookup (`GET /api/users?q=`) answers and as the device
/// remembers those who signed in on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoUser {
    /// The user's id.
    pub id: String,
    /// Their name.
    pub name: String,
    /// Their Network's name.
    #[serde(default)]
    pub network: String,
    /// Their home Office's name.
    #[serde(default)]
    pub office: String,
    /// Their Permission Profile.
    #[serde(default)]
    pub profile: String,
}

/// Whether `user` matches `text` as the server's lookup does: every word in the name or id,
/// ignoring case.
pub fn matches(user: &DemoUser, text: &str) -> bool {
    let (name, id) = (user.name.to_lowercase(), user.id.to_lowercase());
    text.split_whitespace().map(str::to_lowercase).all(|term| name.contains(&term) || id.contains(&term))
}

/// The id that "Sign in" means for `text`, given what the form offered: an offered id, or the
/// one person offered under that name (or label), or else the text as it is.
pub fn chosen(text: &str, offered: &[DemoUser]) -> (String, Option<DemoUser>) {
    let text = text.trim();
    if let Some(user) = offered.iter().find(|user| user.id == text) {
        return (user.id.clone(), Some(user.clone()));
    }
    let named: Vec<&DemoUser> = offered
        .iter()
        .filter(|user| user.name.eq_ignore_ascii_case(text) || label(user).eq_ignore_ascii_case(text))
        .collect();
    if let [user] = named.as_slice() {
        return (user.id.clone(), Some((*user).clone()));
    }
    (text.to_owned(), None)
}

/// How a person is offered: name, profile, Office, Network.
pub fn label(user: &DemoUser) -> String {
    let mut parts = vec![wording::profile_title(&user.profile).to_owned()];
    parts.extend([user.office.clone(), user.network.clone()].into_iter().filter(|part| !part.is_empty()));
    parts.retain(|part| !part.is_empty());
    if parts.is_empty() { user.name.clone() } else { format!("{} ({})", user.name, parts.join(", ")) }
}

/// The `{"error": {"code", "message"}}` of a refusal, as far as it reads; the HTTP status
/// stands in for a code when the body is something else.
pub fn error_code(status: u16, body: &str) -> (String, String) {
    #[derive(Deserialize)]
    struct Body {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_str::<Body>(body) {
        Ok(body) => (body.error.code, body.error.message),
        Err(_) => (format!("http_{status}"), format!("the server answered {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, name: &str) -> DemoUser {
        DemoUser {
            id: id.into(),
            name: name.into(),
            network: "EMEA".into(),
            office: "London".into(),
            profile: "client".into(),
        }
    }

    #[test]
    fn sign_in_takes_an_id_or_the_one_person_named() {
        let offered =
            [user("u-cleo", "Cleo Barnes"), user("u-cleo2", "Cleo Barnes"), user("u-ada", "Ada Lovelace")];
        assert_eq!(chosen("u-cleo2", &offered).0, "u-cleo2");
        assert_eq!(chosen(" ada lovelace ", &offered).0, "u-ada");
        assert_eq!(
            chosen("Cleo Barnes", &offered).0,
            "Cleo Barnes",
            "two people of that name: the text as it is"
        );
        assert_eq!(chosen("u-nobody", &[]).0, "u-nobody");
        assert!(matches(&offered[2], "LOVE ada"));
        assert!(!matches(&offered[2], "ada cleo"));
    }

    #[test]
    fn a_sign_in_answer_makes_a_session_that_lasts_until_its_expiry() {
        let body = r#"{"token":"abc.def.ghi","expires_at":"2026-06-01T01:00:00Z"}"#;
        let session = Session::from_sign_in("u-cleo", body).unwrap();
        assert_eq!(session.user, "u-cleo");
        assert_eq!(session.authorization(), "Bearer abc.def.ghi");
        let json = serde_json::to_string(&session).unwrap();
        let before = Timestamp::parse("2026-06-01T00:59:59Z").unwrap();
        let at = Timestamp::parse("2026-06-01T01:00:00Z").unwrap();
        assert_eq!(Session::restore(&json, before), Some(session));
        assert_eq!(Session::restore(&json, at), None, "an expired token is not kept");
        assert_eq!(Session::restore("{}", before), None);
        assert_eq!(
            Session::from_sign_in("u-cleo", r#"{"token":"","expires_at":"2026-06-01T01:00:00Z"}"#),
            None
        );
        assert_eq!(Session::from_sign_in("u-cleo", "<html>"), None);
    }

    #[test]
    fn refusals_read_their_code() {
        let body = r#"{"error":{"code":"invalid_token","message":"the token has expired"}}"#;
        assert_eq!(error_code(401, body), ("invalid_token".to_owned(), "the token has expired".to_owned()));
        assert_eq!(error_code(502, "Bad gateway").0, "http_502");
    }
}
