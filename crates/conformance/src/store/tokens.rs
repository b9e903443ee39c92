//! API tokens: created once by name, found by the hash of their secret (the
//! one lookup a server makes per request), listed by name with what they
//! hold, their last use recorded, revoked for good but still listed; every
//! store of one database sees the same tokens.

use chrono::{DateTime, TimeDelta, Utc};

use super::fixtures::Must;
use super::Backend;
use drbook_core::store::JobStore;
use drbook_core::token::{Scope, StoredToken, Unusable};

/// A token named `name` whose hash is `hash`, expiring in a day.
pub(crate) fn token(name: &str, hash: &str, scopes: &[Scope]) -> StoredToken {
    // Milliseconds: what every store keeps.
    let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
    StoredToken {
        name: name.to_string(),
        hash: hash.to_string(),
        scopes: scopes.to_vec(),
        created: now,
        created_by: "conformance".to_string(),
        expires: now + TimeDelta::days(1),
        last_used: None,
        revoked: None,
    }
}

pub async fn api_tokens_are_found_by_hash_used_and_revoked(backend: &impl Backend) {
    let store = backend.open().await;
    let ci = token("ci", &"a1".repeat(32), &[Scope::Viewer, Scope::Operator]);
    assert!(store.create_token(&ci).await.must("create_token"));
    let again = token("ci", &"b2".repeat(32), &[Scope::Admin]);
    assert!(
        !store.create_token(&again).await.must("create_token"),
        "a name is taken once"
    );
    let pager = token("pager", &"c3".repeat(32), &[Scope::Approver]);
    assert!(store.create_token(&pager).await.must("create_token"));

    let other = backend.open().await;
    let found = other.token_by_hash(&ci.hash).await.must("token_by_hash");
    assert_eq!(found.as_ref(), Some(&ci), "another process finds it");
    assert_eq!(
        other.token_by_hash(&again.hash).await.must("token_by_hash"),
        None
    );
    let names: Vec<String> = other
        .tokens()
        .await
        .must("tokens")
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["ci", "pager"]);

    let used = ci.created + TimeDelta::seconds(5);
    store.token_used("ci", used).await.must("token_used");
    let revoked = ci.created + TimeDelta::seconds(9);
    assert!(store.revoke_token("pager", revoked).await.must("revoke"));
    assert!(
        store
            .revoke_token("pager", revoked + TimeDelta::hours(1))
            .await
            .must("revoke again"),
        "revoking again is no error"
    );
    assert!(!store.revoke_token("nobody", revoked).await.must("revoke"));

    let tokens = other.tokens().await.must("tokens");
    assert_eq!(tokens[0].last_used, Some(used));
    assert_eq!(tokens[0].usable(Utc::now()), Ok(()));
    assert_eq!(
        tokens[1].revoked,
        Some(revoked),
        "the first revocation stands"
    );
    assert_eq!(tokens[1].usable(Utc::now()), Err(Unusable::Revoked));
    let pager = store.token_by_hash(&pager.hash).await.must("token_by_hash");
    assert_eq!(
        pager.map(|t| t.revoked),
        Some(Some(revoked)),
        "a revoked token is still found, to be refused as revoked"
    );
}

/// What `tokens` answers, for the export's comparison.
pub(crate) async fn listed(store: &dyn JobStore) -> Vec<StoredToken> {
    store.tokens().await.must("tokens")
}
