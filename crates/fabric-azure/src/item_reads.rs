//! Reads of protected items that concurrent callers share. A plan's group
//! reads its items all at once (the starts' checks, the statuses of the
//! failovers that ended, the check after the group): one vault-wide list
//! answers many of them for a read per page, where each would cost a GET.
//!
//! Every answer is as fresh as a GET of its own: a caller only joins a read
//! that has not been sent yet, so whatever it gets was read after it asked
//! (a refusal, a `currentScenario`, is decided on state read after the
//! question). The first caller leads: it yields once, so that the callers
//! ready at the same time join it, then sends the read for all of them —
//! the vault's list when they are more than its pages, else their GETs.

use crate::client::ArmClient;
use crate::error::ArmError;
use crate::wire;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::oneshot;

type Answer = Result<wire::Item, ArmError>;

#[derive(Default)]
pub(crate) struct ItemReads {
    /// The read being gathered (not sent yet), if any.
    open: Mutex<Option<Gathering>>,
    gatherings: AtomicU64,
}

struct Gathering {
    /// Which gathering this is, so that a leader gone before sending its
    /// read closes its own and no later one.
    seq: u64,
    /// Item id → who waits for it.
    waiting: Vec<(String, oneshot::Sender<Answer>)>,
}

enum Role<'a> {
    Lead(Lead<'a>),
    /// Joined a gathering: its answer comes from the leader.
    Follow(oneshot::Receiver<Answer>),
}

/// A leader's claim on its gathering: dropped before the read is sent (the
/// leader was cancelled), it closes the gathering, and its followers, whose
/// senders go with it, read alone.
struct Lead<'a> {
    reads: &'a ItemReads,
    seq: u64,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut open = self.reads.lock();
        if open.as_ref().is_some_and(|g| g.seq == self.seq) {
            *open = None;
        }
    }
}

impl ItemReads {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Gathering>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The item `id` as ARM gives it now, read after this call began (404
    /// when it is gone). `vault` is the vault's path; `pages` how many pages
    /// its list of items took last time.
    pub async fn read(&self, arm: &ArmClient, vault: &str, pages: usize, id: &str) -> Answer {
        let role = {
            let mut open = self.lock();
            match open.as_mut() {
                Some(gathering) => {
                    let (tx, rx) = oneshot::channel();
                    gathering.waiting.push((id.to_string(), tx));
                    Role::Follow(rx)
                }
                None => {
                    let seq = self.gatherings.fetch_add(1, Ordering::Relaxed);
                    *open = Some(Gathering {
                        seq,
                        waiting: Vec::new(),
                    });
                    Role::Lead(Lead { reads: self, seq })
                }
            }
        };
        let lead = match role {
            Role::Lead(lead) => lead,
            Role::Follow(rx) => {
                return match rx.await {
                    Ok(answer) => answer,
                    // Its leader was cancelled before it answered.
                    Err(_) => arm.get_json(id).await,
                };
            }
        };
        tokio::task::yield_now().await;
        let followers = self.lock().take().map(|g| g.waiting).unwrap_or_default();
        drop(lead);
        if followers.is_empty() {
            return arm.get_json(id).await;
        }
        let mut wanted: Vec<&str> = followers.iter().map(|(id, _)| id.as_str()).collect();
        wanted.push(id);
        wanted.sort_unstable_by_key(|id| id.to_ascii_lowercase());
        wanted.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        let answers: HashMap<String, Answer> = if wanted.len() > pages {
            match arm
                .list::<wire::Item>(&format!("{vault}/replicationProtectedItems"))
                .await
            {
                Ok(items) => items
                    .into_iter()
                    .map(|item| (item.id.to_ascii_lowercase(), Ok(item)))
                    .collect(),
                Err(e) => wanted
                    .iter()
                    .map(|id| (id.to_ascii_lowercase(), Err(e.clone())))
                    .collect(),
            }
        } else {
            futures::future::join_all(
                wanted
                    .iter()
                    .map(|id| async move { (id.to_ascii_lowercase(), arm.get_json(id).await) }),
            )
            .await
            .into_iter()
            .collect()
        };
        let answer = |id: &str| {
            answers
                .get(&id.to_ascii_lowercase())
                .cloned()
                .unwrap_or_else(|| Err(gone(id)))
        };
        for (id, tx) in followers {
            // A follower that stopped waiting needs no answer.
            let _ = tx.send(answer(&id));
        }
        answer(id)
    }
}

/// What a GET of an item the vault's list does not show would answer.
fn gone(id: &str) -> ArmError {
    ArmError::Status {
        status: 404,
        code: "ReplicationProtectedItemNotFound".to_string(),
        message: format!("the vault's protected items do not include {id}"),
    }
}
