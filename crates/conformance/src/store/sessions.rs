//! Browser sessions: created, found by the hash of their id from another
//! process, revoked by signing out or with the token they signed in with,
//! and pruned once expired.

use chrono::{DateTime, TimeDelta, Utc};

use super::fixtures::Must;
use super::tokens::token;
use super::Backend;
use drbook_core::token::{Scope, SignedInWith, StoredSession, Unusable};

fn session(hash: &str, via: SignedInWith, expires: DateTime<Utc>) -> StoredSession {
    // Milliseconds: what every store keeps.
    let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
    StoredSession {
        hash: hash.to_string(),
        principal: "alice@example.com".to_string(),
        scopes: vec![Scope::Viewer, Scope::Approver],
        via,
        created: now,
        expires,
        revoked: None,
    }
}

pub async fn sessions_are_found_by_hash_revoked_with_their_token_and_pruned(
    backend: &impl Backend,
) {
    let store = backend.open().await;
    let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
    let later = now + TimeDelta::hours(12);
    let oidc = session(
        &"d4".repeat(32),
        SignedInWith::Oidc {
            subject: "alice-sub".to_string(),
        },
        later,
    );
    let ci = token("ci", &"a1".repeat(32), &[Scope::Viewer]);
    assert!(store.create_token(&ci).await.must("create_token"));
    let by_token = session(
        &"e5".repeat(32),
        SignedInWith::Token {
            name: "ci".to_string(),
        },
        later,
    );
    let expired = session(
        &"f6".repeat(32),
        SignedInWith::Token {
            name: "other".to_string(),
        },
        now - TimeDelta::minutes(1),
    );
    for s in [&oidc, &by_token, &expired] {
        store.create_session(s).await.must("create_session");
    }

    let other = backend.open().await;
    let found = other
        .session_by_hash(&oidc.hash)
        .await
        .must("session_by_hash");
    assert_eq!(found.as_ref(), Some(&oidc), "another process finds it");
    assert_eq!(
        other
            .session_by_hash(&"00".repeat(32))
            .await
            .must("session_by_hash"),
        None
    );

    let out = now + TimeDelta::seconds(3);
    assert!(other
        .revoke_session(&oidc.hash, out)
        .await
        .must("revoke_session"));
    assert!(other
        .revoke_session(&oidc.hash, out + TimeDelta::hours(1))
        .await
        .must("revoke_session again"));
    assert!(!other
        .revoke_session(&"00".repeat(32), out)
        .await
        .must("revoke_session"));
    let found = store
        .session_by_hash(&oidc.hash)
        .await
        .must("session_by_hash");
    assert_eq!(
        found.map(|s| s.revoked),
        Some(Some(out)),
        "the first sign-out stands"
    );

    let revoked = now + TimeDelta::seconds(5);
    assert!(store.revoke_token("ci", revoked).await.must("revoke_token"));
    let found = other
        .session_by_hash(&by_token.hash)
        .await
        .must("session_by_hash");
    assert_eq!(
        found.map(|s| s.usable(now)),
        Some(Err(Unusable::Revoked)),
        "revoking a token ends the sessions it signed in"
    );

    assert_eq!(store.prune_sessions(now).await.must("prune_sessions"), 1);
    assert_eq!(
        store
            .session_by_hash(&expired.hash)
            .await
            .must("session_by_hash"),
        None,
        "the expired session is gone"
    );
    assert!(store
        .session_by_hash(&by_token.hash)
        .await
        .must("session_by_hash")
        .is_some());
}
