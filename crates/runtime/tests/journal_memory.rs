//! What a job's journal keeps in memory: not the whole journal. A live run
//! writes each entry through its run log and keeps only an intent waiting for
//! its reply; a replay lets go of each entry once the runbook has made its
//! call again. Measured with a counting allocator, so this test has a binary
//! of its own.

// Implementing `GlobalAlloc` is unsafe; this one only forwards to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use drbook_core::journal::{Call, Entry};
use drbook_runtime::{Journal, Replay};

struct Counting;

/// Bytes allocated and not yet freed, by the whole process.
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CALLS: usize = 2000;
/// A reply as large as a `list-items` of a few dozen VMs.
const REPLY: usize = 10 << 10;

fn call(n: usize) -> Call {
    Call::GetItem {
        vm: format!("vm-{n}"),
    }
}

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

#[test]
fn a_journal_holds_neither_what_it_recorded_nor_what_it_replayed() {
    let reply = "x".repeat(REPLY);
    let before = live();
    let mut journal = Journal::new(Vec::new(), None);
    for n in 0..CALLS {
        journal.record(call(n), &reply, None).unwrap();
    }
    let kept = live() - before;
    assert!(
        kept < (CALLS * REPLY / 100) as isize,
        "a live run of {CALLS} calls kept {kept} bytes"
    );
    drop(journal);

    let before = live();
    let entries: Vec<Entry> = (0..CALLS)
        .map(|n| Entry {
            call: call(n),
            reply: Some(serde_json::Value::String(reply.clone())),
            at: 1,
        })
        .collect();
    let mut journal = Journal::new(entries, None);
    for n in 0..CALLS {
        match journal.replay::<String>(&call(n)).unwrap() {
            Replay::Reply(replied) => assert_eq!(replied.len(), REPLY),
            _ => panic!("call {n} is in the journal"),
        }
    }
    let kept = live() - before;
    assert!(
        kept < (CALLS * REPLY / 100) as isize,
        "after replaying {CALLS} calls, {kept} bytes of them are kept"
    );
}
