"""Azure's own Site Recovery SDK against drbook's ARM emulator.

Issue 11 asks for an emulator "faithful enough that Azure's own SDKs work
against it". This script is that client: Microsoft's generated Python SDK
(azure-mgmt-recoveryservicessiterecovery, built from the REST specification)
with azure-identity's ManagedIdentityCredential, pointed at a running
`drbook fabric serve-arm`. It

- lists the vault's protected items across pages (`nextLink`) and reads one,
  and checks that every body it receives deserialises into the SDK's models
  with no field the specification does not know (a misspelt or miscased name
  is such a field) and every known field readable as its declared type;
- fails one item over with `begin_planned_failover`, waited for by the SDK's
  own LRO poller (`Azure-AsyncOperation`, `Location`, `Retry-After`), then
  finds the operation's job with `replication_jobs.list`/`get` (its
  `activityId` starts with the client request id the SDK sent) and the item
  failed over;
- runs the rest of the cycle on a second item with the SDK's A2A inputs
  (test failover and cleanup, unplanned failover to a chosen recovery
  point, commit, reprotect), sees a refused action come back as ARM's error,
  and lists the recovery plans.

Usage: asr_sdk_check.py ENDPOINTS_JSON EXPECTED_ITEMS
  ENDPOINTS_JSON  the line `drbook --json fabric serve-arm` prints
  EXPECTED_ITEMS  how many protected items the vault holds
IDENTITY_ENDPOINT and IDENTITY_HEADER must be set (the emulator's `env`).
Exits 0 when everything matches; 1 at the first mismatch, or at an SDK call
the emulator refused, saying which.
"""

import datetime
import json
import os
import sys
import typing
import uuid

from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.recoveryservicessiterecovery import models
from azure.mgmt.recoveryservicessiterecovery._utils.model_base import Model


class Mismatch(Exception):
    """The emulator answered something the SDK or the specification does not."""


def check(condition, message):
    if not condition:
        raise Mismatch(message)


def hints(cls):
    """A model's declared field types, its forward references resolved."""
    namespace = dict(vars(models._models))
    namespace["_models"] = models
    return typing.get_type_hints(cls, namespace)


def conforms(value, hint):
    """Whether `value`, as the SDK deserialised it, is of the declared type
    `hint`. The SDK is lenient: a value it cannot read as its type (a date
    that is not RFC 3339, a number sent as text) is handed back raw, so the
    type is checked here."""
    origin = typing.get_origin(hint)
    if hint is typing.Any:
        return True
    if origin is typing.Union:
        return any(conforms(value, arm) for arm in typing.get_args(hint))
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin is list:
        (element,) = typing.get_args(hint)
        return isinstance(value, list) and all(conforms(v, element) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


SCALARS = {int, float, bool, str, type(None)}


def audit(value, path):
    """Every field of `value` (an SDK model or a list of them) read back as
    the SDK reads it: a key of the body that the model does not declare is a
    mismatch (the specification has no such field, or names it otherwise),
    and so is a declared field whose value is not of its declared type."""
    if isinstance(value, list):
        for i, element in enumerate(value):
            audit(element, f"{path}[{i}]")
        return
    if not isinstance(value, Model):
        return
    cls = type(value)
    fields = cls._attr_to_rest_field
    known = {field._rest_name for field in fields.values()}
    unknown = sorted(set(value.keys()) - known)
    check(not unknown, f"{path} ({cls.__name__}) has fields the specification does not: {unknown}")
    declared = hints(cls)
    for attr, field in fields.items():
        child, raw = getattr(value, attr), value.get(field._rest_name)
        # A JSON scalar must be one already: the SDK would read "3" as 3.
        scalar = set(typing.get_args(declared[attr]) or [declared[attr]]) <= SCALARS
        check(
            conforms(child, declared[attr]) and (not scalar or conforms(raw, declared[attr])),
            f"{path}.{field._rest_name} is {raw!r}, not the {declared[attr]} {cls.__name__} declares",
        )
        audit(child, f"{path}.{field._rest_name}")


def segments(arm_id):
    """An item's fabric, container and name from its ARM id."""
    parts = arm_id.strip("/").split("/")
    lower = [p.lower() for p in parts]
    at = lambda word: parts[lower.index(word.lower()) + 1]
    return (
        at("replicationFabrics"),
        at("replicationProtectionContainers"),
        at("replicationProtectedItems"),
    )


def run(endpoints, expected_items):
    for var in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"):
        check(os.environ.get(var), f"{var} is not set: export the emulator's env")
    arm = endpoints["armEndpoint"]
    rg, vault = endpoints["resourceGroup"], endpoints["vault"]
    client = SiteRecoveryManagementClient(
        ManagedIdentityCredential(),
        endpoints["subscription"],
        base_url=arm,
        credential_scopes=[f"{arm}/.default"],
        connection_verify=endpoints["caFile"],
    )
    print(f"SDK api-version {client._config.api_version} against {arm}")

    # The vault's items, page by page.
    pages = list(client.replication_protected_items.list(rg, vault).by_page())
    items = [item for page in pages for item in page]
    print(f"replication_protected_items.list: {len(items)} items in {len(pages)} pages")
    check(len(pages) > 1, f"one page of {len(items)} items: nextLink was never followed")
    names = [item.properties.friendly_name for item in items]
    check(len(set(names)) == len(names), f"an item came twice across pages: {sorted(names)}")
    check(
        len(items) == expected_items,
        f"{len(items)} items listed, the vault holds {expected_items}: {sorted(names)}",
    )
    for item in items:
        audit(item, f"list:{item.name}")

    # One item that may fail over now, read on its own.
    candidates = [
        item
        for item in items
        if "PlannedFailover" in (item.properties.allowed_operations or [])
        and item.properties.active_location == "Primary"
    ]
    check(candidates, f"no item allows PlannedFailover: {[(i.name, i.properties.allowed_operations) for i in items]}")
    fabric, container, name = segments(candidates[0].id)
    item = client.replication_protected_items.get(rg, vault, fabric, container, name)
    audit(item, f"get:{name}")
    props = item.properties
    check(props.friendly_name == name, f"friendlyName {props.friendly_name!r}, not {name!r}")
    check(props.protection_state == "Protected", f"{name}: protectionState {props.protection_state!r}")
    check(props.protection_state_description, f"{name}: no protectionStateDescription")
    check(
        {"PlannedFailover", "UnplannedFailover", "TestFailover"} <= set(props.allowed_operations),
        f"{name}: allowedOperations {props.allowed_operations}",
    )
    check(props.current_scenario.scenario_name == "None", f"{name} is busy: {props.current_scenario}")
    check(
        isinstance(props.current_scenario.start_time, datetime.datetime),
        f"{name}: currentScenario.startTime {props.current_scenario.start_time!r}",
    )
    a2a = props.provider_specific_details
    check(
        isinstance(a2a, models.A2AReplicationDetails),
        f"{name}: providerSpecificDetails is {type(a2a).__name__}, not A2AReplicationDetails",
    )
    check(a2a.primary_fabric_location, f"{name}: A2A primaryFabricLocation missing")
    check(a2a.recovery_fabric_location, f"{name}: A2A recoveryFabricLocation missing")
    check(
        a2a.primary_fabric_location != a2a.recovery_fabric_location,
        f"{name}: A2A primary and recovery locations are both {a2a.primary_fabric_location}",
    )
    check(a2a.recovery_azure_resource_group_id, f"{name}: A2A recoveryAzureResourceGroupId missing")
    check(
        a2a.protected_managed_disks and a2a.protected_managed_disks[0].disk_id,
        f"{name}: A2A protectedManagedDisks {a2a.protected_managed_disks}",
    )
    points = list(client.recovery_points.list_by_replication_protected_items(rg, vault, fabric, container, name))
    check(points, f"{name} has no recovery points")
    for point in points:
        audit(point, f"recoveryPoints:{name}:{point.name}")
    print(
        f"replication_protected_items.get {name}: {props.protection_state}, "
        f"{a2a.primary_fabric_location} -> {a2a.recovery_fabric_location}, "
        f"RPO {a2a.rpo_in_seconds}s, allowed {props.allowed_operations}"
    )

    # A planned failover to completion, waited for by the SDK's poller. The
    # specification's PlannedFailoverProviderSpecificFailoverInput has no
    # A2A kind (its kinds are Hyper-V's and InMageRcm's failback), so an A2A
    # item's planned failover sends no provider-specific input.
    request_id = str(uuid.uuid4())
    poller = client.replication_protected_items.begin_planned_failover(
        rg,
        vault,
        fabric,
        container,
        name,
        models.PlannedFailoverInput(
            properties=models.PlannedFailoverInputProperties(failover_direction="PrimaryToRecovery")
        ),
        request_id=request_id,
        polling_interval=0.05,
    )
    result = poller.result(timeout=120)
    check(poller.status() == "Succeeded", f"{name}: the poller ended {poller.status()!r}")
    check(isinstance(result, models.ReplicationProtectedItem), f"the LRO's result is {result!r}")
    audit(result, f"plannedFailover:{name}")
    check(result.properties.active_location == "Recovery", f"{name} after failover: activeLocation {result.properties.active_location!r}")
    print(f"begin_planned_failover {name}: {poller.status()}, now {result.properties.protection_state}")

    # Its job: listed, read, and naming the request the SDK sent.
    jobs = list(client.replication_jobs.list(rg, vault))
    for job in jobs:
        audit(job, f"jobs.list:{job.name}")
    # ASR's activityId of a job starts with the client request id of the
    # request that started it: what a client that lost the POST's answer
    # finds its operation by.
    mine = [job for job in jobs if (job.properties.activity_id or "").startswith(request_id)]
    check(
        len(mine) == 1,
        f"{len(mine)} jobs with the request id {request_id} in their activityId: "
        f"{[(j.name, j.properties.activity_id) for j in jobs]}",
    )
    job = client.replication_jobs.get(rg, vault, mine[0].name)
    audit(job, f"jobs.get:{job.name}")
    check(job.name == mine[0].name, f"jobs.get {mine[0].name} answered {job.name}")
    check(job.properties.target_object_name == name, f"job {job.name}: targetObjectName {job.properties.target_object_name!r}")
    check(job.properties.scenario_name == "PlannedFailover", f"job {job.name}: scenarioName {job.properties.scenario_name!r}")
    check(job.properties.state == "Succeeded", f"job {job.name}: state {job.properties.state!r}")
    check(job.properties.tasks, f"job {job.name} has no tasks")
    check(
        isinstance(job.properties.end_time, datetime.datetime) and job.properties.end_time >= job.properties.start_time,
        f"job {job.name}: startTime {job.properties.start_time!r}, endTime {job.properties.end_time!r}",
    )
    print(f"replication_jobs.get {job.name}: {job.properties.state}, {len(job.properties.tasks)} tasks")

    # The item, read again, failed over.
    after = client.replication_protected_items.get(rg, vault, fabric, container, name)
    audit(after, f"get-after:{name}")
    check(after.properties.active_location == "Recovery", f"{name}: activeLocation {after.properties.active_location!r} after the failover")
    check(
        after.properties.protection_state != props.protection_state,
        f"{name}: protectionState still {after.properties.protection_state!r}",
    )
    check("Commit" in after.properties.allowed_operations, f"{name}: allowedOperations {after.properties.allowed_operations} after the failover")
    check(after.properties.current_scenario.scenario_name == "None", f"{name} still busy: {after.properties.current_scenario}")
    print(f"{name} after the failover: {after.properties.protection_state}, allowed {after.properties.allowed_operations}")

    others = [i for i in candidates if i.name != name]
    check(others, "a second item to run the cycle on")
    cycle(client, rg, vault, others[0])
    plans = list(client.replication_recovery_plans.list(rg, vault))
    for plan in plans:
        audit(plan, f"replication_recovery_plans.list:{plan.name}")
    print(f"replication_recovery_plans.list: {[plan.name for plan in plans]}")


def cycle(client, rg, vault, item):
    """The rest of the DR cycle on `item` through the SDK's A2A inputs, each
    action waited for by its poller and its result audited: a drill (test
    failover into a network, cleanup), an unplanned failover to a chosen
    recovery point, commit, reprotect (its input from the item's own
    properties); and a refusal, as ARM's error."""
    fabric, container, name = segments(item.id)
    ops = client.replication_protected_items

    def wait(action, active, state, *inputs):
        """`ops.<action>` on the item with `inputs`, waited for by its
        poller: the item it ends with, in `active` and `state`."""
        poller = getattr(ops, action)(rg, vault, fabric, container, name, *inputs, polling_interval=0.05)
        result = poller.result(timeout=120)
        audit(result, f"{action}:{name}")
        props = result.properties
        check(
            (props.active_location, props.protection_state) == (active, state),
            f"{name} after {action}: {props.active_location}, {props.protection_state}; "
            f"wanted {active}, {state}",
        )
        print(f"{action} {name}: {state}, {active}, allowed {props.allowed_operations}")
        return result

    network = (
        f"/subscriptions/{client._config.subscription_id}/resourceGroups/{rg}-asr"
        "/providers/Microsoft.Network/virtualNetworks/vnet-drill"
    )
    drill = wait(
        "begin_test_failover",
        "Primary",
        "Protected",
        models.TestFailoverInput(properties=models.TestFailoverInputProperties(
            failover_direction="PrimaryToRecovery",
            network_type="VmNetworkAsInput",
            network_id=network,
            provider_specific_details=models.A2ATestFailoverInput(),
        )),
    )
    tfo_network = drill.properties.provider_specific_details.selected_tfo_azure_network_id
    check(tfo_network == network, f"{name}: selectedTfoAzureNetworkId {tfo_network!r}, not {network}")
    cleanup = models.TestFailoverCleanupInputProperties(comments="drill done")
    wait("begin_test_failover_cleanup", "Primary", "Protected", models.TestFailoverCleanupInput(properties=cleanup))
    points = list(client.recovery_points.list_by_replication_protected_items(rg, vault, fabric, container, name))
    point = client.recovery_points.get(rg, vault, fabric, container, name, points[-1].name)
    audit(point, f"recoveryPoints.get:{name}")
    check(point.id == points[-1].id, f"recovery point {points[-1].name} read back as {point.id}")
    failed_over = wait(
        "begin_unplanned_failover",
        "Recovery",
        "FailedOverCommitPending",
        models.UnplannedFailoverInput(properties=models.UnplannedFailoverInputProperties(
            failover_direction="PrimaryToRecovery",
            source_site_operations="NotRequired",
            provider_specific_details=models.A2AUnplannedFailoverInput(recovery_point_id=point.id),
        )),
    )
    check(
        (failed_over.properties.failover_recovery_point_id or "").lower() == point.id.lower(),
        f"{name}: failoverRecoveryPointId {failed_over.properties.failover_recovery_point_id!r}, not {point.id}",
    )
    committed = wait("begin_failover_commit", "Recovery", "FailoverCommitted")
    props, a2a = committed.properties, committed.properties.provider_specific_details
    wait(
        "begin_reprotect",
        "Recovery",
        "Protected",
        models.ReverseReplicationInput(properties=models.ReverseReplicationInputProperties(
            failover_direction="RecoveryToPrimary",
            provider_specific_details=models.A2AReprotectInput(
                recovery_container_id=props.recovery_container_id,
                policy_id=props.policy_id,
                recovery_resource_group_id=a2a.recovery_azure_resource_group_id,
            ),
        )),
    )
    try:
        ops.begin_failover_commit(rg, vault, fabric, container, name, polling_interval=0.05).result(timeout=120)
        raise Mismatch(f"{name}: a commit of a protected item was accepted")
    except HttpResponseError as e:
        check(e.error is not None and e.error.code, f"{name}: a refused commit's error has no ARM code: {e}")
        print(f"a refused commit of {name}: {e.status_code} {e.error.code}")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    try:
        run(json.loads(sys.argv[1]), int(sys.argv[2]))
    except Mismatch as e:
        print(f"MISMATCH: {e}", file=sys.stderr)
        sys.exit(1)
    except HttpResponseError as e:
        print(f"MISMATCH: the emulator refused an SDK call: {e}", file=sys.stderr)
        sys.exit(1)
    print("the SDK and the emulator agree")


if __name__ == "__main__":
    main()
