//! The emulator over real HTTPS on 127.0.0.1, with the simulator at instant
//! speed. One integration binary; one module per concern.

mod common;

mod auth;
mod cloud;
mod cycle;
mod entra;
mod faults;
mod wire;
