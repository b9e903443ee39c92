//! `wasi:random`: the operating system's randomness, journaled (in hex) so
//! that a replay is handed the same bytes. The insecure interfaces get the
//! same: real randomness, journaled. `insecure-seed` too, which std uses for
//! the keys of its `HashMap`s: a replay iterates them in the same order.
//! Nothing is derived from the job id, which is no secret.

use wasmtime_wasi::p2::bindings::random::{insecure, insecure_seed, random};

use crate::journal::{entry_bytes, CorruptEntry};
use crate::state::InstanceState;
use drbook_core::journal::Call;

impl InstanceState {
    /// `len` random bytes. Refused before they are made when their entry
    /// would pass the journal's limits: the runbook chooses `len`.
    fn random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        let call = Call::Random { len };
        if let Some(hex) = self.replayed::<String>(&call)? {
            return hex::decode(hex).map_err(|e| {
                CorruptEntry {
                    position: self.journal.position(),
                    detail: format!("random bytes: {e}"),
                }
                .into()
            });
        }
        let size = usize::try_from(len).unwrap_or(usize::MAX);
        // The reply is a JSON string of two hex digits a byte.
        let reply = size.saturating_mul(2).saturating_add(2);
        self.journal
            .room_for(entry_bytes(&call, None).saturating_add(reply))?;
        let mut bytes = vec![0; size];
        getrandom::fill(&mut bytes).map_err(|e| {
            wasmtime::format_err!("the operating system's random source failed: {e}")
        })?;
        self.journal.record(call, &hex::encode(&bytes), None)?;
        Ok(bytes)
    }

    fn random_array<const N: usize>(&mut self) -> wasmtime::Result<[u8; N]> {
        let bytes = self.random_bytes(N as u64)?;
        bytes.try_into().map_err(|_| {
            CorruptEntry {
                position: self.journal.position(),
                detail: format!("random bytes: not {N} of them"),
            }
            .into()
        })
    }
}

impl random::Host for InstanceState {
    fn get_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        self.random_bytes(len)
    }

    fn get_random_u64(&mut self) -> wasmtime::Result<u64> {
        Ok(u64::from_le_bytes(self.random_array()?))
    }
}

impl insecure::Host for InstanceState {
    fn get_insecure_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        self.random_bytes(len)
    }

    fn get_insecure_random_u64(&mut self) -> wasmtime::Result<u64> {
        Ok(u64::from_le_bytes(self.random_array()?))
    }
}

impl insecure_seed::Host for InstanceState {
    fn insecure_seed(&mut self) -> wasmtime::Result<(u64, u64)> {
        let seed = u128::from_le_bytes(self.random_array()?);
        Ok((seed as u64, (seed >> 64) as u64))
    }
}
