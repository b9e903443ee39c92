//! A host on the azure backend against the ARM emulator, for the CLI tests
//! of the azure backend (`azure check`, `plan import --from-azure`, `fabric
//! jobs`). Kept out of `common/mod.rs` so the tests that do not drive Azure
//! do not carry it; included with `#[path]`.
//!
//! The emulator is the one `drbook fabric serve-arm` serves, started in
//! this process (`Emulator::start`, as serve-arm does, with the plans it
//! would read from `<data-dir>/plans/`). The serve-arm process itself is
//! what `serve_arm_cli.rs` tests. (These tests once failed at random when a
//! serve-arm child died of SIGPIPE as a client went away mid-answer: drbook
//! set SIGPIPE's default action then; it keeps it ignored now, see
//! `webhooks::a_client_that_hangs_up_cannot_kill_the_server_sigpipe_is_ignored`.)

use drbook_arm_emulator::{Config, Emulator, Endpoints};
use drbook_core::plan::RecoveryPlan;
use drbook_core::TimeScale;
use drbook_fabric_sim::{demo_estate, demo_plan_toml, Estate, Options, Simulator};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::common::drbook;

const SECRET: &str = "drbook-cli-azure-tests";

/// The emulator over the demo estate (a simulator in `sim`, at instant
/// speed), serving the demo plan and `plans` (plan files' TOML) as the
/// vault's recovery plans, and the data dir `host` on the azure backend
/// against it (`drbook.toml`: managed identity over its token endpoint).
pub struct AzureHost {
    pub host: PathBuf,
    sim: PathBuf,
    /// `drbook.toml`'s `[fabric]`, the emulator's: what every host on it writes.
    fabric: String,
    // Dropped before the runtime it runs on.
    emulator: Emulator,
    _tokio: tokio::runtime::Runtime,
}

impl AzureHost {
    /// With `page_size` items or jobs a page (the emulator's default: 100).
    #[allow(dead_code)] // not every test that includes this asks
    pub fn start(sim: &Path, host: &Path, plans: &[&str], page_size: Option<usize>) -> Self {
        Self::start_with(sim, host, plans, page_size, |_| {})
    }

    /// [`AzureHost::start`] with the emulator's configuration changed by
    /// `configure` (its Entra ID apps, principals without a role).
    pub fn start_with(
        sim: &Path,
        host: &Path,
        plans: &[&str],
        page_size: Option<usize>,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        Self::start_on(sim, host, &demo_estate(), plans, page_size, configure)
    }

    /// [`AzureHost::start_with`] over `estate` rather than the demo's.
    pub fn start_on(
        sim: &Path,
        host: &Path,
        estate: &Estate,
        plans: &[&str],
        page_size: Option<usize>,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let tokio = tokio::runtime::Runtime::new().unwrap();
        let simulator =
            Simulator::init_with(sim, estate, false, Options::new(TimeScale::Instant)).unwrap();
        let demo = demo_plan_toml().unwrap();
        let recovery_plans = std::iter::once(demo.as_str())
            .chain(plans.iter().copied())
            .map(|toml| RecoveryPlan::parse(toml, "a test plan").unwrap())
            .collect();
        let defaults = Config::default();
        let mut config = Config {
            identity_secret: Some(SECRET.to_string()),
            page_size: page_size.unwrap_or(defaults.page_size),
            recovery_plans,
            ..defaults
        };
        configure(&mut config);
        let emulator = tokio
            .block_on(Emulator::start(simulator, config, sim))
            .unwrap();
        let ep: &Endpoints = emulator.endpoints();
        let fabric = format!(
            "[fabric]\nkind = \"azure\"\nsubscription = {:?}\nresource-group = {:?}\n\
             vault = {:?}\narm-endpoint = {:?}\ncredential = \"managed-identity\"\n\
             ca-file = {:?}\n",
            ep.subscription, ep.resource_group, ep.vault, ep.base_url, ep.ca_pem_path
        );
        let azure = AzureHost {
            host: host.to_path_buf(),
            sim: sim.to_path_buf(),
            fabric,
            emulator,
            _tokio: tokio,
        };
        azure.add_host(host, "");
        azure
    }

    /// Makes `dir` another host on the emulator: its `drbook.toml` is the
    /// emulator's `[fabric]` and then `more` (its `[store]`, say).
    pub fn add_host(&self, dir: &Path, more: &str) {
        std::fs::write(dir.join("drbook.toml"), format!("{}{more}", self.fabric)).unwrap();
    }

    /// The identity endpoint's secret, which nothing the host keeps may hold.
    #[allow(dead_code)] // not every test that includes this asks
    pub fn secret(&self) -> &'static str {
        SECRET
    }

    /// `drbook args` on the host.
    #[allow(dead_code)] // not every test that includes this asks
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `drbook args` on the host, to run: managed identity's variables set,
    /// no `AZURE_*` variable of the test's shell.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_in(&self.host, args)
    }

    /// [`AzureHost::command`] on `dir`, a host of [`AzureHost::add_host`].
    pub fn command_in(&self, dir: &Path, args: &[&str]) -> Command {
        let mut command = drbook(dir);
        without_azure_env(&mut command)
            .env(
                "IDENTITY_ENDPOINT",
                &self.emulator.endpoints().token_endpoint,
            )
            .env("IDENTITY_HEADER", SECRET)
            .args(args);
        command
    }

    /// The emulator: its endpoints and counters.
    #[allow(dead_code)] // not every test that includes this asks
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// `drbook args` on the emulator's data dir: the simulator backend.
    #[allow(dead_code)] // not every test that includes this asks
    pub fn on_simulator(&self, args: &[&str]) -> Output {
        drbook(&self.sim).args(args).output().unwrap()
    }
}

/// stdout then stderr, then how it exited, for assertions and their
/// messages.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}({})",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        output.status
    )
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// `secret` is in none of `outputs` (stdout and stderr) and no file under
/// `dir`.
#[allow(dead_code)] // not every test that includes this asks
pub fn assert_nowhere(secret: &str, outputs: &[&Output], dir: &Path) {
    for output in outputs {
        assert!(
            !text(output).contains(secret),
            "a log holds the secret: {}",
            text(output)
        );
    }
    for path in files(dir) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "{} holds the secret",
            path.display()
        );
    }
}

/// `command` without the `AZURE_*` credential variables of the test's
/// shell.
pub fn without_azure_env(command: &mut Command) -> &mut Command {
    for var in [
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_AUTHORITY_HOST",
    ] {
        command.env_remove(var);
    }
    command
}

/// `output` says `what`, or the test fails showing all it said.
#[allow(dead_code)] // not every test that includes this asks
pub fn says(output: &Output, what: &str) {
    assert!(text(output).contains(what), "{what}: {}", text(output));
}

/// `drbook azure check` failed (exit 1) naming `problem`, with `fix: {fix}`,
/// and without sending the reader to itself.
#[allow(dead_code)] // not every test that includes this asks
pub fn fails(output: &Output, problem: &str, fix: &str) {
    assert_eq!(output.status.code(), Some(1), "{}", text(output));
    assert!(
        !text(output).contains("`drbook azure check` says"),
        "azure check sends the reader to itself: {}",
        text(output)
    );
    says(output, problem);
    says(output, &format!("fix: {fix}"));
}
