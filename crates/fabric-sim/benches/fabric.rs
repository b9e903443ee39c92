//! The simulator's performance targets (issue 2): opening the store and
//! listing 1,000 VMs well under 100 ms; starting one operation on each of
//! 1,000 VMs well under 1 s. Figures are kept in `docs/benchmarks.md`.
//!
//! `cargo bench -p drbook-fabric-sim --bench fabric`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use drbook_core::fabric::{Direction, Fabric, OperationRequest};
use drbook_core::TimeScale;
use drbook_fabric_sim::{Estate, EstateVm, Simulator};
use std::time::Duration;

const VMS: usize = 1000;

fn estate() -> Estate {
    Estate {
        regions: vec!["eastus".to_string(), "westus".to_string()],
        vms: (0..VMS)
            .map(|i| EstateVm {
                name: format!("vm-{i:04}"),
                role: "app-server".to_string(),
                disk_size_gb: 128 + (i as u32 % 16) * 128,
                primary_region: "eastus".to_string(),
                recovery_region: "westus".to_string(),
            })
            .collect(),
    }
}

fn fabric(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let estate = estate();
    let mut group = c.benchmark_group("fabric");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    let dir = tempfile::tempdir().expect("dir");
    drop(Simulator::init(dir.path(), &estate, false, TimeScale::Factor(1.0)).expect("init"));
    group.bench_function("open_and_list_1000_vms", |b| {
        b.iter(|| {
            let sim = Simulator::open(dir.path(), TimeScale::Factor(1.0)).expect("open");
            let items = tokio.block_on(sim.list_items()).expect("list");
            assert_eq!(items.len(), VMS);
        })
    });

    let request = OperationRequest::PlannedFailover {
        direction: Direction::PrimaryToRecovery,
    };
    group.bench_function("start_one_operation_on_each_of_1000_vms", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("dir");
                let sim = Simulator::init(dir.path(), &estate, false, TimeScale::Factor(1.0))
                    .expect("init");
                (dir, sim)
            },
            |(_dir, sim)| {
                tokio.block_on(async {
                    for vm in &estate.vms {
                        sim.start(&vm.name, &request, "bench").await.expect("start");
                    }
                })
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, fabric);
criterion_main!(benches);
