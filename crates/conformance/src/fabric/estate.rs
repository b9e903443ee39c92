//! The read model of a fresh estate: `list_items` lists every VM once, in
//! order of name (`list_items_without_points` the same items, without
//! their points), and `get_item` gives the same item under any case of its
//! name (IDs and names compare case-insensitively in Azure).

use super::{settled, Harness, Setup};
use std::collections::HashSet;

pub async fn estate_reads_consistently(setup: &dyn Setup) {
    let h = Harness::fresh(setup, "estate_reads_consistently").await;
    let items = h
        .fabric
        .list_items()
        .await
        .expect("estate_reads_consistently: list_items");
    let without_points = h
        .fabric
        .list_items_without_points()
        .await
        .expect("estate_reads_consistently: list_items_without_points");
    assert_eq!(
        without_points.iter().map(settled).collect::<Vec<_>>(),
        items.iter().map(settled).collect::<Vec<_>>(),
        "estate_reads_consistently: list_items_without_points lists the items of list_items"
    );
    assert!(
        without_points
            .iter()
            .all(|item| item.recovery_points.is_empty()),
        "estate_reads_consistently: list_items_without_points gives no recovery points"
    );
    let names: Vec<String> = items.iter().map(|item| item.name.to_lowercase()).collect();
    let mut ordered = names.clone();
    ordered.sort();
    ordered.dedup();
    assert_eq!(
        names, ordered,
        "estate_reads_consistently: list_items lists each VM once, by name"
    );
    let ids: HashSet<String> = items.iter().map(|item| item.id.to_lowercase()).collect();
    assert_eq!(
        ids.len(),
        items.len(),
        "estate_reads_consistently: ids are unique"
    );
    for item in &items {
        assert!(
            !item
                .primary_region
                .eq_ignore_ascii_case(&item.recovery_region),
            "estate_reads_consistently: {} replicates within {}",
            item.name,
            item.primary_region
        );
        for name in [
            item.name.clone(),
            item.name.to_uppercase(),
            item.name.to_lowercase(),
        ] {
            assert_eq!(
                settled(&h.item(&name).await),
                settled(item),
                "estate_reads_consistently: get_item({name}) and list_items disagree"
            );
        }
    }
}
