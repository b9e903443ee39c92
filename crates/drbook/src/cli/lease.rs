//! The names this host's processes take in leases, and telling a holder
//! that died from one that runs: `<kind>-<user>@<host>#<pid>` (a worker that
//! lapsed goes on as `...#<pid>.<n>`). A command on the same host can then
//! take over at once a job whose holder was killed, instead of waiting out
//! its lease.

/// This process's lease name for a `kind` of holder (`run`, `worker`,
/// `serve`).
pub fn owner(kind: &str) -> String {
    format!(
        "{kind}-{}@{}#{}",
        super::who(),
        hostname(),
        std::process::id()
    )
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Whether `owner` names a process of this host that no longer runs. Only
/// a certain answer counts: another host's holder, a name of another shape,
/// or a process that still runs (or whose state cannot be read) is not gone.
pub fn holder_is_gone(owner: &str) -> bool {
    let Some((kind_user_host, pid)) = owner.rsplit_once('#') else {
        return false;
    };
    let Some((_, host)) = kind_user_host.rsplit_once('@') else {
        return false;
    };
    let pid = pid.split('.').next().unwrap_or(pid);
    if host != hostname() || pid.parse::<u32>().is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // A zombie has exited; only its parent has not reaped it yet.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(e) => {
            e.kind() == std::io::ErrorKind::NotFound && std::path::Path::new("/proc/self").exists()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_local_holder_is_gone_and_a_live_or_foreign_one_is_not() {
        let me = owner("run");
        assert!(!holder_is_gone(&me), "this process runs: {me}");
        assert!(
            !holder_is_gone(&format!("{me}.2")),
            "a later lease of it too"
        );
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let dead = format!("worker-x@{}#{pid}", hostname());
        assert!(holder_is_gone(&dead), "{dead}");
        assert!(holder_is_gone(&format!("{dead}.1")));
        assert!(!holder_is_gone(&format!("worker-x@elsewhere#{pid}")));
        assert!(!holder_is_gone("run-4242-job-1"), "an old-style name");
    }
}
