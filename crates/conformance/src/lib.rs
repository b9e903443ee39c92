//! The conformance suites of drbook's ports. A backend is done when it
//! passes its port's suite: the simulator and the Azure backend run
//! [`fabric`], SQLite and PostgreSQL run [`store`]. The suites are written
//! over the trait objects only, so that they say what the port promises,
//! not what one backend happens to do; [`waits`] checks that a backend
//! synchronous underneath never holds an async thread while it waits.

pub mod fabric;
pub mod store;
pub mod waits;
