//! The course every outside call takes (`http.send`, `azure.send`), whatever
//! it reaches: replayed from the journal; else checked against the job's
//! grant, and a refusal journaled as the reply with a warning line; else,
//! in a dry run, a write journaled and not sent; else a write journaled as
//! a durable intent and sent once, a read sent and journaled with its
//! answer. A write's intent met in a replay without its reply (the host
//! died while it was out) is answered `outcome-unknown`, recorded, and
//! never sent again.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::journal::Replay;
use crate::state::{InstanceState, Live};
use drbook_core::job::JobSpec;
use drbook_core::journal::{Call, Stream};

/// The errors every kind of outside call has, which its course makes.
pub(super) trait OutsideError: Serialize + DeserializeOwned + std::fmt::Display {
    /// Outside the grant: nothing was sent.
    fn not_granted(message: String) -> Self;
    /// A write sent before the host stopped, whose answer was never journaled.
    fn outcome_unknown(message: String) -> Self;
    /// A dry run's write: journaled, not sent.
    fn not_sent(message: String) -> Self;
    /// Whether it is a refusal of the grant (which the live call may find
    /// too: a name that resolved to an address that is not public).
    fn is_not_granted(&self) -> bool;
}

/// One outside call, described for the course.
pub(super) struct Outside<'a> {
    pub call: Call,
    /// Its effect cannot be repeated: a write.
    pub write: bool,
    /// `PUT <what>`, as messages show it.
    pub shown: &'a str,
}

impl InstanceState {
    /// `call`'s reply: from the journal, or `check` (the grant, on the
    /// job's spec: `Err` is the refusal's message) then `send` live, as
    /// the module's docs say.
    pub(super) async fn outside_call<T, E, Fut>(
        &mut self,
        outside: Outside<'_>,
        check: impl FnOnce(&JobSpec) -> Result<(), String>,
        send: impl FnOnce(Live) -> Fut,
    ) -> wasmtime::Result<Result<T, E>>
    where
        T: Serialize + DeserializeOwned,
        E: OutsideError,
        Fut: Future<Output = Result<T, E>>,
    {
        let Outside { call, write, shown } = outside;
        Ok(match self.replay(&call)? {
            Replay::Reply(reply) => reply,
            Replay::Intent(intent) => {
                let error = E::outcome_unknown(format!(
                    "{shown} was sent once before the host stopped, and its answer was never \
                     journaled; drbook does not send it again: find out at the destination \
                     whether it took effect"
                ));
                self.streams.push(Stream::Warning, error.to_string());
                let reply = Err(error);
                self.journal.complete(intent, &reply)?;
                reply
            }
            Replay::Live => match check(&self.spec) {
                Err(refused) => {
                    tracing::warn!(job = %self.spec.job_id, "outside call refused: {refused}");
                    let error = E::not_granted(refused);
                    let record = self.streams.record(Stream::Warning, error.to_string());
                    let reply = Err(error);
                    self.journal.record(call, &reply, record.as_ref())?;
                    reply
                }
                Ok(()) if write && self.live.outside.dry_run => {
                    let error = E::not_sent(format!(
                        "{shown} was recorded and not sent: this is a dry run"
                    ));
                    let record = self.streams.record(Stream::Verbose, error.to_string());
                    let reply = Err(error);
                    self.journal.record(call, &reply, record.as_ref())?;
                    reply
                }
                Ok(()) if write => {
                    let intent = self.journal.intent(call).await?;
                    let live = self.live.clone();
                    let reply = live.wait(send(live.clone())).await?;
                    self.journal.complete(intent, &reply)?;
                    if let Some(e) = reply.as_ref().err().filter(|e| e.is_not_granted()) {
                        self.streams.push(Stream::Warning, e.to_string());
                    }
                    reply
                }
                Ok(()) => {
                    let live = self.live.clone();
                    let reply = live.wait(send(live.clone())).await?;
                    // Refused by the live call itself (a name that resolved
                    // to an address that is not public): on the record as
                    // the others are.
                    let record = match reply.as_ref().err().filter(|e| e.is_not_granted()) {
                        Some(e) => self.streams.record(Stream::Warning, e.to_string()),
                        None => None,
                    };
                    self.journal.record(call, &reply, record.as_ref())?;
                    reply
                }
            },
        })
    }
}
