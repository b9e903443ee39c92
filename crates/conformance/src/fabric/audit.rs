//! Refused starts in the audit trail: a start drbook's host refused before
//! it reached the fabric (outside its job's scope) is recorded, for any VM
//! name, once per initiator, and changes nothing: no item moves, and the
//! initiator has started no operation (a resumed job must not take the
//! record for one). The trail itself is each backend's (the simulator's
//! history, Azure's audit log): its own tests read it.

use super::{request, settled, Harness, Setup};
use drbook_core::fabric::{OperationKind, RefusedStart};
use drbook_core::scope::Rule;

const SCENARIO: &str = "refused_starts_are_recorded";
const UNKNOWN_VM: &str = "drbook-conformance-out-of-scope-vm";

pub async fn refused_starts_are_recorded(setup: &dyn Setup) {
    let h = Harness::fresh(setup, SCENARIO).await;
    let vm = &h.vms[0];
    let estate = || async {
        let items = h
            .fabric
            .list_items()
            .await
            .unwrap_or_else(|err| panic!("{SCENARIO}: list_items: {err}"));
        items.iter().map(settled).collect::<Vec<_>>()
    };
    let before = estate().await;

    let failover = request(OperationKind::UnplannedFailover, &h.item(vm).await);
    let initiator = h.initiator();
    let refused = |vm: &str| RefusedStart {
        vm: vm.to_string(),
        request: failover.clone(),
        initiator: initiator.clone(),
        rule: Rule::FailoverType,
        reason: format!(
            "unplanned-failover on `{vm}` is outside this job's scope (drbook conformance)"
        ),
    };
    // Twice, as a resumed job may: the second changes nothing.
    for attempt in [refused(vm), refused(vm), refused(UNKNOWN_VM)] {
        h.fabric
            .record_refusal(&attempt)
            .await
            .unwrap_or_else(|err| panic!("{SCENARIO}: record_refusal on {}: {err}", attempt.vm));
    }
    assert_eq!(
        estate().await,
        before,
        "{SCENARIO}: recording refusals changed the estate"
    );
    for on in [vm.as_str(), UNKNOWN_VM] {
        let found = h
            .fabric
            .find_operation(on, &initiator)
            .await
            .unwrap_or_else(|err| panic!("{SCENARIO}: find_operation({on}): {err}"));
        assert_eq!(
            found, None,
            "{SCENARIO}: a refused start is no operation of {initiator} on {on}"
        );
    }
    // The item holds nothing for the refusal: the same start goes through.
    h.run(vm, &failover).await;
}
