//! A simulator call that must wait (another process holds the store's write
//! lock) waits without holding the async thread, and succeeds once the lock
//! is free.

use super::{planned, Fixture};
use crate::Simulator;
use drbook_core::fabric::{Direction, Fabric};

#[test]
fn a_start_that_must_wait_waits_off_the_async_thread() {
    let fixture = Fixture::instant();
    let sim = fixture.sim.clone();
    let request = planned(Direction::PrimaryToRecovery);
    let start = async move { sim.start("web-01", &request, "test").await };
    drbook_conformance::waits::blocked_by_another_writer(
        &Simulator::store_path(fixture.dir.path()),
        start,
    )
    .expect("the start succeeds once the lock is free");
}
