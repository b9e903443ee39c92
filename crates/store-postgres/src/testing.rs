//! A throwaway PostgreSQL cluster for tests (feature `testing`): one per test
//! process, started at its first use, with a database of its own for every
//! test ([`database`]); a test that restarts the server makes a cluster of
//! its own ([`Cluster::private`]).
//!
//! The cluster is made with `initdb` and `pg_ctl` in a temporary directory,
//! listens on 127.0.0.1 on a free port (its socket in that directory too),
//! asks for a password over TCP (so tests can get one wrong) and keeps
//! `fsync` on: durability is what the store's tests check. PostgreSQL
//! refuses to run as root, so as root it runs as the `postgres` system user
//! (`runuser`), the directory handed to it.
//!
//! Stopped at the process's exit, however the process ends: a watchdog
//! shell reads a pipe only this process holds, and when the pipe closes
//! (exit, panic, abort, `kill -9`) it stops the cluster and removes its
//! directory. No postgres process outlives `cargo test`.
//!
//! No binaries, no tests: a test that needs the cluster and cannot start it
//! fails, saying what to install (`scripts/test.sh` runs these tests only
//! where the binaries exist, and says so when it does not).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use sqlx::Connection as _;

/// The superuser's name and (over TCP) password.
const ADMIN: &str = "postgres";
const PASSWORD: &str = "drbook-test-password";

/// The database every test's database is copied from: migrated once.
const TEMPLATE: &str = "drbook_template";

/// The cluster of this test process (or a test's own, [`Cluster::private`]).
pub struct Cluster {
    port: u16,
    /// Whether it runs as the `postgres` user (this process is root).
    root: bool,
    /// Its server binaries.
    bin: PathBuf,
    /// Its temporary directory: the data directory, the socket, the log.
    dir: PathBuf,
    /// The watchdog's stdin: closed when this process ends.
    _watchdog: Mutex<ChildStdin>,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// Names of the databases this process made.
static DATABASES: AtomicU32 = AtomicU32::new(0);

impl Cluster {
    /// The URL of `database` on this cluster, as the superuser.
    pub fn url(&self, database: &str) -> String {
        self.url_with(PASSWORD, database)
    }

    /// The URL of `database` with another password (to get it wrong).
    pub fn url_with(&self, password: &str, database: &str) -> String {
        format!(
            "postgres://{ADMIN}:{password}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    /// A cluster of its own, for a test that stops and starts its server
    /// (the other tests of the process share [`cluster`], which must stay
    /// up), stopped at the process's exit as that one is. Blocking.
    ///
    /// # Panics
    /// As [`cluster`] does.
    pub fn private() -> Cluster {
        start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// A new database on this cluster, migrated to this build's schema;
    /// its URL.
    pub async fn database(&self) -> String {
        new_database(self, "test", Some(TEMPLATE)).await
    }

    /// Stops the server as an operator's restart does (`pg_ctl stop -m
    /// fast`: sessions are ended with `57P01 admin_shutdown`, the WAL is
    /// checkpointed), until [`start_server`](Self::start_server). Blocking.
    ///
    /// # Panics
    /// If it does not stop.
    pub fn stop_server(&self) {
        let mut pg_ctl = as_cluster_user(self.root, &self.bin, "pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-t", "60", "-m", "fast", "stop"]);
        run(pg_ctl, "pg_ctl stop").unwrap_or_else(|e| panic!("{e}"));
    }

    /// Starts the server again, on the same data directory and port.
    /// Blocking.
    ///
    /// # Panics
    /// If it does not start (its log is shown).
    pub fn start_server(&self) {
        start_server(self.root, &self.bin, &self.dir, self.port).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The cluster of this process, started at the first call (from a blocking
/// context: it waits for `initdb` and the server).
///
/// # Panics
/// If the cluster cannot be made or started: no binaries, no `postgres`
/// user to run them as root, a server that does not start (its log is
/// shown).
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| start().unwrap_or_else(|e| panic!("{e}")))
}

/// A new database on this process's cluster, migrated to this build's
/// schema; its URL.
pub async fn database() -> String {
    shared().await.database().await
}

/// An empty database (no schema) on this process's cluster; its URL.
pub async fn empty_database() -> String {
    new_database(shared().await, "empty", None).await
}

/// [`cluster`], from an async context.
async fn shared() -> &'static Cluster {
    tokio::task::spawn_blocking(cluster)
        .await
        .expect("the cluster's start")
}

/// A database on `cluster` named after `prefix`, this process and a
/// counter, copied from `template` (PostgreSQL's own if none); its URL.
async fn new_database(cluster: &Cluster, prefix: &str, template: Option<&str>) -> String {
    let n = DATABASES.fetch_add(1, Ordering::Relaxed);
    let name = format!("{prefix}_{}_{n}", std::process::id());
    create_database(cluster, &name, template).await;
    cluster.url(&name)
}

/// Runs `sql` on the database at `url` (what a test sets up that the
/// store would not write: a schema from a newer build, say).
pub async fn execute(url: &str, sql: &'static str) {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to the test database");
    sqlx::query(sql)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Job `id`'s row locked `FOR UPDATE` in a transaction of its own, as a
/// claim under way holds it, until [`Locked::release`].
pub async fn lock_job(url: &str, id: &str) -> Locked {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("connect to the test database");
    let mut tx = pool.begin().await.expect("begin");
    let locked: Option<i32> = sqlx::query_scalar("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .expect("lock the job's row");
    assert!(locked.is_some(), "no job `{id}` to lock");
    Locked(tx)
}

/// A job's row held locked ([`lock_job`]).
pub struct Locked(sqlx::Transaction<'static, sqlx::Postgres>);

impl Locked {
    /// Ends the transaction that holds the lock.
    pub async fn release(self) {
        self.0.rollback().await.expect("release the lock");
    }
}

async fn create_database(cluster: &Cluster, name: &str, template: Option<&str>) {
    let mut admin = sqlx::PgConnection::connect(&cluster.url("postgres"))
        .await
        .expect("connect to the test cluster");
    let template = template
        .map(|t| format!(" TEMPLATE {t}"))
        .unwrap_or_default();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name}{template}"
    )))
    .execute(&mut admin)
    .await
    .expect("create a test database");
}

/// Where the server binaries are: `DRBOOK_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian's), else `PATH`'s.
fn binaries() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("DRBOOK_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Ok(bin);
    }
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists());
    on_path.ok_or_else(|| {
        "PostgreSQL's server binaries (initdb, pg_ctl) are not installed, and the PostgreSQL tests need \
         them: install them (`apt-get install postgresql`), or set DRBOOK_PG_BIN to their directory"
            .to_string()
    })
}

/// Whether this process runs as root (PostgreSQL refuses to).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let uid = status.lines().find(|l| l.starts_with("Uid:"))?;
            Some(uid.split_whitespace().nth(1)? == "0")
        })
        .unwrap_or(false)
}

/// A command running `program` of `bin` as the cluster's user.
fn as_cluster_user(root: bool, bin: &Path, program: &str) -> Command {
    let program = bin.join(program);
    if root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// `id -u postgres` / `id -g postgres`.
fn id_of_postgres(flag: &str) -> Result<u32, String> {
    let out = Command::new("id")
        .args([flag, "postgres"])
        .output()
        .map_err(|e| format!("id {flag} postgres: {e}"))?;
    String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|_| {
        "running as root, the test cluster needs the `postgres` system user to run as (Debian's \
         postgresql package makes it; or `useradd --system postgres`)"
            .to_string()
    })
}

/// Runs `command`, failing with its output.
fn run(mut command: Command, what: &str) -> Result<(), String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn start() -> Result<Cluster, String> {
    let bin = binaries()?;
    let root = is_root();
    let dir = tempfile::Builder::new()
        .prefix("drbook-pg-")
        .tempdir()
        .map_err(|e| format!("a directory for the test cluster: {e}"))?
        // Removed by the watchdog, after the server stopped.
        .keep();
    let data = dir.join("data");
    let pwfile = dir.join("password");
    std::fs::write(&pwfile, PASSWORD).map_err(|e| format!("{}: {e}", pwfile.display()))?;
    if root {
        let (uid, gid) = (id_of_postgres("-u")?, id_of_postgres("-g")?);
        for path in [&dir, &pwfile] {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| format!("chown {} to postgres: {e}", path.display()))?;
        }
    }
    let mut watchdog = watchdog(root, &bin, &dir, &data)?;
    let mut initdb = as_cluster_user(root, &bin, "initdb");
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", ADMIN, "-E", "UTF8", "--no-instructions"])
        .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
        .arg(format!("--pwfile={}", pwfile.display()));
    run(initdb, "initdb")?;
    let port = free_port()?;
    start_server(root, &bin, &dir, port)?;
    // The server is up: from now on only the watchdog stops it (and a test
    // that restarts its own, `Cluster::stop_server`).
    let _ = watchdog.flush();
    let cluster = Cluster {
        port,
        root,
        bin,
        dir,
        _watchdog: Mutex::new(watchdog),
    };
    make_template(&cluster)?;
    Ok(cluster)
}

/// Starts the server of the cluster in `dir` on `port`, waiting until it
/// accepts connections.
fn start_server(root: bool, bin: &Path, dir: &Path, port: u16) -> Result<(), String> {
    let log = dir.join("server.log");
    let mut pg_ctl = as_cluster_user(root, bin, "pg_ctl");
    pg_ctl
        .arg("-D")
        .arg(dir.join("data"))
        .arg("-l")
        .arg(&log)
        .args(["-w", "-t", "60", "-o"])
        .arg(format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=on -c max_connections=400",
            dir.display()
        ))
        .arg("start");
    run(pg_ctl, "pg_ctl start").map_err(|e| {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        format!("the test cluster did not start: {e}\n--- its log:\n{log}")
    })
}

/// A shell that waits for this process to end (its stdin, whose only
/// writer is this process, reaches its end), then stops the cluster and
/// removes `dir`.
fn watchdog(root: bool, bin: &Path, dir: &Path, data: &Path) -> Result<ChildStdin, String> {
    let pg_ctl = bin.join("pg_ctl");
    let stop = if root {
        format!(
            "runuser -u postgres -- '{}' -D '{}' -m immediate stop",
            pg_ctl.display(),
            data.display()
        )
    } else {
        format!(
            "'{}' -D '{}' -m immediate stop",
            pg_ctl.display(),
            data.display()
        )
    };
    let script = format!(
        "cat >/dev/null; if [ -f '{}/postmaster.pid' ]; then {stop}; fi; rm -rf '{}'",
        data.display(),
        dir.display()
    );
    let child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("the test cluster's watchdog: {e}"))?;
    child
        .stdin
        .ok_or_else(|| "the test cluster's watchdog has no stdin".to_string())
}

/// A port nobody listens on now (the server binds it a moment later).
fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("a free port on 127.0.0.1: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("a free port on 127.0.0.1: {e}"))
}

/// Creates [`TEMPLATE`], migrated, on a runtime of its own (the caller is
/// blocking, maybe inside another runtime's blocking thread).
fn make_template(cluster: &Cluster) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("a runtime for the template: {e}"))?;
    runtime.block_on(async {
        create_database(cluster, TEMPLATE, None).await;
        crate::PostgresStore::migrate(&cluster.url(TEMPLATE))
            .await
            .map_err(|e| format!("migrate the template database: {e}"))?;
        Ok(())
    })
}
