//! API tokens: what programs, and the CLI against a remote `drbook serve`,
//! present to reach the server's API (`Authorization: Bearer drbk_...`).
//!
//! A token is stored as the SHA-256 of its secret only (the secret is 256
//! random bits, not a password, so a plain hash suffices), looked up by that
//! hash, and shared by every server on one store. It holds one or more
//! [`Scope`]s; see [`Scope::allows`] for how they combine.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a token may do. A token may hold several.
///
/// Cumulative as roles are where they nest, independent where they do not:
/// every scope reads ([`Scope::Viewer`]'s routes); `operator` adds starting
/// and stopping jobs, `approver` adds deciding manual steps, and neither
/// implies the other (whoever approves a failover need not be able to start
/// one, and the reverse: four eyes); `admin` implies all of them, and adds
/// webhooks and tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Viewer,
    Operator,
    Approver,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::Viewer,
        Scope::Operator,
        Scope::Approver,
        Scope::Admin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scope::Viewer => "viewer",
            Scope::Operator => "operator",
            Scope::Approver => "approver",
            Scope::Admin => "admin",
        }
    }

    /// Whether a token holding `held` may do what needs `self`.
    pub fn allows(self, held: &[Scope]) -> bool {
        held.iter()
            .any(|&h| h == self || h == Scope::Admin || self == Scope::Viewer)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Scope {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Scope::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!("unknown scope `{text}`; use viewer, operator, approver or admin")
            })
    }
}

/// A token as the store keeps it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredToken {
    /// Unique in the store, also after it is revoked: decisions and stops
    /// made with the token are recorded under it.
    pub name: String,
    /// Hex SHA-256 of the secret; unique, indexed.
    pub hash: String,
    /// At least one, sorted, no repeats.
    pub scopes: Vec<Scope>,
    pub created: DateTime<Utc>,
    pub created_by: String,
    pub expires: DateTime<Utc>,
    /// The latest request it authenticated, to the minute at best (a server
    /// records a use at most once a minute per token).
    pub last_used: Option<DateTime<Utc>>,
    pub revoked: Option<DateTime<Utc>>,
}

/// Why a stored token does not authenticate now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unusable {
    Revoked,
    Expired,
}

impl StoredToken {
    /// `Ok` if the token may be used at `now`.
    pub fn usable(&self, now: DateTime<Utc>) -> Result<(), Unusable> {
        if self.revoked.is_some() {
            Err(Unusable::Revoked)
        } else if self.expires <= now {
            Err(Unusable::Expired)
        } else {
            Ok(())
        }
    }
}

/// A browser's signed-in session, as the store keeps it: the cookie holds
/// a random id, the store only its SHA-256 (as for tokens), so a copy of
/// the store signs no one in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredSession {
    /// Hex SHA-256 of the session id; unique, the key it is found by.
    pub hash: String,
    /// Who the session acts as: recorded as the person of its decisions.
    pub principal: String,
    /// What it may do, fixed when it signed in.
    pub scopes: Vec<Scope>,
    pub via: SignedInWith,
    pub created: DateTime<Utc>,
    /// Never later than the token's own expiry for a token's session.
    pub expires: DateTime<Utc>,
    /// Signed out (or its token revoked) at.
    pub revoked: Option<DateTime<Utc>>,
}

/// How a session signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum SignedInWith {
    /// The API token of this name: revoking it ends the session.
    Token { name: String },
    /// OpenID Connect: the provider's subject (`sub`) of the person.
    Oidc { subject: String },
}

impl StoredSession {
    /// `Ok` if the session may be used at `now`.
    pub fn usable(&self, now: DateTime<Utc>) -> Result<(), Unusable> {
        if self.revoked.is_some() {
            Err(Unusable::Revoked)
        } else if self.expires <= now {
            Err(Unusable::Expired)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Scope::*;

    #[test]
    fn every_scope_reads_admin_implies_all_operator_and_approver_are_apart() {
        for held in Scope::ALL {
            assert!(Viewer.allows(&[held]), "{held}");
            assert!(held.allows(&[Admin]), "{held}");
        }
        assert!(Operator.allows(&[Operator]));
        assert!(!Approver.allows(&[Operator]));
        assert!(!Operator.allows(&[Approver]));
        assert!(!Admin.allows(&[Operator, Approver]));
        assert!(Approver.allows(&[Viewer, Approver]));
        assert!(!Viewer.allows(&[]));
        assert_eq!("Approver".parse::<Scope>(), Ok(Approver));
        assert!("root".parse::<Scope>().unwrap_err().contains("viewer"));
    }
}
