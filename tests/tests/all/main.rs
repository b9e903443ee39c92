//! drbook's cross-crate integration tests: real runbooks, built for
//! wasm32-wasip2 by this crate's build script, run by the real runtime
//! against the real simulator (at instant speed).

mod bad_input;
mod cli;
mod crash;
mod eviction;
mod hostile;
mod jobs_cli;
mod runbooks;
mod support;
mod webhooks;
