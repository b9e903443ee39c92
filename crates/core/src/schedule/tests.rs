//! Ticks on the wall clock of Europe/Berlin, across both of its changes in
//! 2026 (29 March 02:00 CET -> 03:00 CEST, 25 October 03:00 CEST -> 02:00
//! CET), and what a scheduler does with ticks it missed.

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn berlin(expr: &str) -> Cron {
    Cron::parse(expr, "Europe/Berlin").unwrap()
}

#[test]
fn a_monthly_pattern_ticks_at_three_in_berlin_in_winter_and_summer_time() {
    let ticks = berlin("0 3 1 * *").upcoming(at("2026-12-02T10:00:00Z"), 5);
    assert_eq!(
        ticks,
        [
            at("2027-01-01T02:00:00Z"),
            at("2027-02-01T02:00:00Z"),
            at("2027-03-01T02:00:00Z"),
            at("2027-04-01T01:00:00Z"),
            at("2027-05-01T01:00:00Z"),
        ]
    );
}

#[test]
fn a_local_time_the_clock_skips_ticks_once_at_the_jump() {
    // 02:30 does not exist on 29 March: the day's one tick is at 03:00 CEST.
    let daily = berlin("30 2 * * *");
    assert_eq!(
        daily.upcoming(at("2026-03-27T12:00:00Z"), 4),
        [
            at("2026-03-28T01:30:00Z"),
            at("2026-03-29T01:00:00Z"),
            at("2026-03-30T00:30:00Z"),
            at("2026-03-31T00:30:00Z"),
        ]
    );
    // Every quarter hour: the four skipped times and 03:00 itself are one
    // instant, one tick.
    let quarterly = berlin("*/15 * * * *");
    assert_eq!(
        quarterly.upcoming(at("2026-03-29T00:30:00Z"), 4),
        [
            at("2026-03-29T00:45:00Z"),
            at("2026-03-29T01:00:00Z"),
            at("2026-03-29T01:15:00Z"),
            at("2026-03-29T01:30:00Z"),
        ]
    );
}

#[test]
fn a_local_time_the_clock_shows_twice_ticks_once_at_its_first() {
    let daily = berlin("30 2 * * *");
    assert_eq!(
        daily.upcoming(at("2026-10-24T12:00:00Z"), 3),
        [
            at("2026-10-25T00:30:00Z"), // 02:30 CEST; not again at 02:30 CET
            at("2026-10-26T01:30:00Z"),
            at("2026-10-27T01:30:00Z"),
        ]
    );
    // From inside the repeated hour (02:10 CET), the repeat is not a tick.
    assert_eq!(
        daily.next_after(at("2026-10-25T01:10:00Z")),
        Some(at("2026-10-26T01:30:00Z"))
    );
    // Every quarter hour: 02:00 to 02:45 once each, in CEST, then 03:00 CET.
    let quarterly = berlin("*/15 * * * *");
    assert_eq!(
        quarterly.upcoming(at("2026-10-24T23:50:00Z"), 6),
        [
            at("2026-10-25T00:00:00Z"),
            at("2026-10-25T00:15:00Z"),
            at("2026-10-25T00:30:00Z"),
            at("2026-10-25T00:45:00Z"),
            at("2026-10-25T02:00:00Z"),
            at("2026-10-25T02:15:00Z"),
        ]
    );
}

#[test]
fn bad_patterns_zones_and_names_say_what_to_write() {
    let e = Cron::parse("0 3 1 *", "Europe/Berlin").unwrap_err();
    assert!(matches!(e, ScheduleError::Cron { .. }), "{e}");
    assert!(e.to_string().contains("five fields"), "{e}");
    let e = Cron::parse("0 3 1 * *", "Europe/Berlim").unwrap_err();
    assert_eq!(
        e,
        ScheduleError::TimeZone {
            zone: "Europe/Berlim".into()
        }
    );
    assert!(e.to_string().contains("IANA"), "{e}");
    let e = Cron::parse_ticking("0 0 30 2 *", "UTC", at("2026-12-02T00:00:00Z")).unwrap_err();
    assert!(
        matches!(e, ScheduleError::Cron { .. } | ScheduleError::Never { .. }),
        "{e}"
    );
    assert!(Schedule::check_name("monthly-drill").is_ok());
    assert!(Schedule::check_name("a b").is_err());
    assert!(Schedule::check_name("").is_err());
}

#[test]
fn a_tick_not_yet_come_is_not_due_and_one_on_time_starts() {
    let hourly = berlin("0 * * * *");
    let next = at("2026-12-02T10:00:00Z");
    assert_eq!(
        due(&hourly, next, Missed::Skip, at("2026-12-02T09:59:59Z")),
        None
    );
    let due_now = due(&hourly, next, Missed::Skip, at("2026-12-02T10:00:30Z")).unwrap();
    assert_eq!(
        due_now,
        Due {
            tick: next,
            missed: 0,
            start: true,
            next: Some(at("2026-12-02T11:00:00Z")),
        }
    );
}

#[test]
fn ticks_missed_during_downtime_run_once_or_are_skipped() {
    // Down from before 10:00 until 13:20: 10:00, 11:00, 12:00 and 13:00 missed.
    let hourly = berlin("0 * * * *");
    let next = at("2026-12-02T10:00:00Z");
    let now = at("2026-12-02T13:20:00Z");
    let once = due(&hourly, next, Missed::RunOnce, now).unwrap();
    assert_eq!(
        once,
        Due {
            tick: at("2026-12-02T13:00:00Z"),
            missed: 3,
            start: true,
            next: Some(at("2026-12-02T14:00:00Z")),
        }
    );
    let skip = due(&hourly, next, Missed::Skip, now).unwrap();
    assert_eq!(
        skip,
        Due {
            start: false,
            ..once
        }
    );
    // Back within a minute of 13:00: that tick is on time under either
    // policy, and the three before it were missed.
    let back = at("2026-12-02T13:00:40Z");
    let skip = due(&hourly, next, Missed::Skip, back).unwrap();
    assert!(skip.start);
    assert_eq!((skip.tick, skip.missed), (at("2026-12-02T13:00:00Z"), 3));
}

#[test]
fn an_outcome_says_why_a_tick_started_nothing() {
    let overlap = TickOutcome::Overlap {
        job: "job-1".into(),
    };
    assert_eq!(
        overlap.to_string(),
        "skipped: the previous run, job-1, had not ended"
    );
    assert_eq!(overlap.job(), None);
    let started = TickOutcome::Started {
        job: "job-2".into(),
        missed: 2,
    };
    assert_eq!(
        started.to_string(),
        "started job-2, once for 3 ticks missed"
    );
    assert_eq!(started.job(), Some("job-2"));
    assert_eq!(
        serde_json::to_value(&TickOutcome::Missed { missed: 0 }).unwrap(),
        serde_json::json!({"kind": "missed", "missed": 0})
    );
}
