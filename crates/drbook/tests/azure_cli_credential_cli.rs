//! `credential = "azure-cli"` for real: Microsoft's Azure CLI (`az`, from
//! PyPI, pinned in `tests/az/requirements.txt`) registers the ARM
//! emulator as a cloud from its metadata endpoint, signs in to it with `az
//! login --service-principal` (MSAL: the tenant's OpenID discovery, the
//! token endpoint, then `GET /subscriptions`), and a drbook process gets
//! its ARM token from `az account get-access-token`, as azure_identity's
//! `AzureCliCredential` runs it. `drbook azure check` names the principal,
//! and each way the CLI gives no token with its fix; no token reaches a log
//! at trace level or the data dir.
//!
//! `az` is isolated: its own config dir (`AZURE_CONFIG_DIR`) per test, the
//! emulator's CA (`REQUESTS_CA_BUNDLE`), telemetry, surveys and MSAL's
//! instance discovery (a request to login.microsoftonline.com) off, and a
//! proxy that refuses every connection for anything but 127.0.0.1, so that
//! a request off this machine fails the test instead of leaving it. It
//! runs behind a two-line shell script on `PATH` that counts its runs.
//!
//! The CLI lives in a venv under the target dir (`common/python.rs`):
//! made on the first run (README: "The two commands"), reused after. A
//! machine without Python 3, its venv module or PyPI fails these tests,
//! naming what to install: they do not skip.

use drbook_arm_emulator::{App, AppCredential, Config};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "common/azure.rs"]
mod azure;
#[allow(dead_code)] // serve_arm() is for the tests of serve-arm itself
mod common;
#[path = "common/python.rs"]
mod python;

use azure::{assert_nowhere, fails, says, text, without_azure_env, AzureHost};

const CLIENT_ID: &str = "7a2c3b5d-0000-4000-8000-00000000a001";
const OBJECT_ID: &str = "7a2c3b5d-0000-4000-8000-00000000b001";
const CLIENT_SECRET: &str = "Az8~drbook-az-cli-test-secret.value";
const OTHER_TENANT: &str = "00000000-0000-0000-0000-0000000000f3";
const OTHER_CLIENT_ID: &str = "7a2c3b5d-0000-4000-8000-00000000a002";

/// The venv's `bin` with the pinned Azure CLI: `target/tmp/az-venv`.
fn az_venv() -> PathBuf {
    let requirements =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/az/requirements.txt");
    python::venv("az-venv", &requirements, "the Azure CLI (azure-cli)")
}

/// The Azure CLI with its own config dir, trusting the emulator's CA, and
/// the directory holding the `az` that counts its runs.
struct Az {
    config: PathBuf,
    ca: PathBuf,
    /// Holds `az` (the counting script) and `runs`.
    shim: PathBuf,
}

impl Az {
    /// An `az` in `dir` (its config dir and shim under it), for the
    /// emulator whose CA is `ca`.
    fn new(dir: &Path, ca: &Path) -> Az {
        let real = az_venv().join("az");
        let shim = dir.join("bin");
        std::fs::create_dir_all(&shim).unwrap();
        let script = shim.join("az");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho run >> {:?}\nexec {:?} \"$@\"\n",
                shim.join("runs"),
                real
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        Az {
            config: dir.join("azure-config"),
            ca: ca.to_path_buf(),
            shim,
        }
    }

    /// `command` with az's isolation: its config dir, the CA, nothing sent
    /// anywhere but 127.0.0.1, and `PATH` = the shim and the system's.
    fn isolate<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        without_azure_env(command)
            .env_remove("SSL_CERT_FILE")
            .env("PATH", format!("{}:/usr/bin:/bin", self.shim.display()))
            .env("AZURE_CONFIG_DIR", &self.config)
            .env("REQUESTS_CA_BUNDLE", &self.ca)
            .env("AZURE_CORE_COLLECT_TELEMETRY", "false")
            .env("AZURE_CORE_SURVEY_MESSAGE", "false")
            .env("AZURE_CORE_NO_COLOR", "true")
            // MSAL asks login.microsoftonline.com whether an authority it
            // does not know is valid, unless told not to (as Azure Stack's
            // custom clouds are).
            .env("AZURE_CORE_INSTANCE_DISCOVERY", "false")
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("NO_PROXY", "127.0.0.1")
    }

    /// `az args`, which must succeed; its output.
    fn run(&self, args: &[&str]) -> String {
        let mut command = Command::new(self.shim.join("az"));
        command.args(args);
        python::run(
            self.isolate(&mut command),
            &format!("az {}", args.join(" ")),
        )
    }

    /// How many times `az` ran so far.
    fn runs(&self) -> usize {
        std::fs::read_to_string(self.shim.join("runs"))
            .map(|text| text.lines().count())
            .unwrap_or(0)
    }

    /// The emulator at `base` registered as the active cloud, from its
    /// metadata endpoint.
    fn use_cloud(&self, base: &str) {
        self.run(&[
            "cloud",
            "register",
            "--name",
            "drbook-emulator",
            "--endpoint-resource-manager",
            base,
        ]);
        self.run(&["cloud", "set", "--name", "drbook-emulator"]);
    }

    /// `az login --service-principal` as `client_id` in `tenant`; its
    /// output (the subscriptions it found).
    fn login(&self, client_id: &str, tenant: &str, extra: &[&str]) -> String {
        let mut args = vec![
            "login",
            "--service-principal",
            "--username",
            client_id,
            "--password",
            CLIENT_SECRET,
            "--tenant",
            tenant,
            "--output",
            "json",
        ];
        args.extend(extra);
        self.run(&args)
    }
}

/// A host on the azure backend with `credential = "azure-cli"` (and
/// `tenant-id` when given), against an emulator knowing [`CLIENT_ID`] in
/// the subscription's tenant and [`OTHER_CLIENT_ID`] in [`OTHER_TENANT`].
struct Fixture {
    azure: AzureHost,
    az: Az,
    tenant: String,
    data: tempfile::TempDir,
    _dir: tempfile::TempDir,
    _sim: tempfile::TempDir,
}

fn fixture(tenant_id: Option<&str>) -> Fixture {
    let (sim, data, dir) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let app = |tenant: &str, client_id: &str, object_id: &str| App {
        tenant: tenant.to_string(),
        client_id: client_id.to_string(),
        object_id: object_id.to_string(),
        credential: AppCredential::Secret(CLIENT_SECRET.to_string()),
    };
    let azure = AzureHost::start_with(sim.path(), data.path(), &[], None, |config: &mut Config| {
        config.apps = vec![
            app(&config.tenant, CLIENT_ID, OBJECT_ID),
            app(
                OTHER_TENANT,
                OTHER_CLIENT_ID,
                "7a2c3b5d-0000-4000-8000-00000000b002",
            ),
        ];
    });
    let toml = data.path().join("drbook.toml");
    let mut config = std::fs::read_to_string(&toml).unwrap().replace(
        "credential = \"managed-identity\"",
        "credential = \"azure-cli\"",
    );
    if let Some(tenant) = tenant_id {
        config.push_str(&format!("tenant-id = {tenant:?}\n"));
    }
    std::fs::write(&toml, config).unwrap();
    let endpoints = azure.emulator().endpoints();
    let az = Az::new(dir.path(), &endpoints.ca_pem_path);
    Fixture {
        tenant: endpoints.tenant.clone(),
        azure,
        az,
        data,
        _dir: dir,
        _sim: sim,
    }
}

impl Fixture {
    /// `drbook args` at trace level, with az's isolation (the CLI it runs
    /// inherits it).
    fn drbook(&self, args: &[&str]) -> Output {
        let mut command = self.azure.command(args);
        command
            .env("RUST_LOG", "trace")
            .env_remove("IDENTITY_ENDPOINT");
        self.az.isolate(&mut command).output().unwrap()
    }

    fn base(&self) -> String {
        self.azure.emulator().endpoints().base_url.clone()
    }
}

#[test]
fn the_azure_cli_signed_in_to_the_emulator_gives_drbook_its_arm_token() {
    let f = fixture(None);
    let emu = f.azure.emulator();
    f.az.use_cloud(&f.base());
    let login = f.az.login(CLIENT_ID, &f.tenant, &[]);
    let subscription = &emu.endpoints().subscription;
    assert!(login.contains(subscription.as_str()), "{login}");
    let signed_in = emu.counters();
    assert!(
        signed_in.requests("GET", "metadata.endpoints") == 1
            && signed_in.requests("GET", "openidConfiguration") >= 1
            && signed_in.requests("GET", "subscriptions.list") >= 1,
        "az login read the cloud, the tenant and the subscriptions: {:?}",
        signed_in.requests
    );
    assert!(signed_in.token_fetches >= 1, "{signed_in:?}");

    let runs = f.az.runs();
    let check = f.drbook(&["azure", "check"]);
    assert!(check.status.success(), "{}", text(&check));
    let principal = format!(
        "application {CLIENT_ID} from azure-cli in tenant {}",
        f.tenant
    );
    says(&check, &principal);
    says(&check, "is readable: 12 protected items");
    assert_eq!(f.az.runs(), runs + 1, "one `az` for the check");

    // A real operation: its reads, its POST and its polls on one run of az
    // (azure_identity's AzureCliCredential keeps no token; drbook does).
    let runs = f.az.runs();
    let op = f.drbook(&["fabric", "op", "planned-failover", "web-01", "--wait"]);
    assert!(op.status.success(), "{}", text(&op));
    assert!(text(&op).contains("Succeeded"), "{}", text(&op));
    assert_eq!(f.az.runs(), runs + 1, "one `az` for the whole operation");
    let counters = emu.counters();
    assert_eq!(counters.posts("web-01", "plannedFailover"), 1);
    assert!(counters.total_requests() > 3, "{:?}", counters.requests);

    // Every token ARM saw came from Entra's token endpoint, asked by az as
    // the service principal: managed identity's endpoint issued none.
    assert_eq!(
        counters.requests("GET", "token"),
        0,
        "{:?}",
        counters.requests
    );
    assert_eq!(
        counters.token_fetches,
        counters.requests("POST", "token"),
        "{:?}",
        counters.requests
    );
    let tokens = emu.issued_tokens();
    assert!(!tokens.is_empty());
    // The logs searched are trace level's: azure_identity's own lines
    // (the az command it runs) among them.
    says(&check, "running Azure CLI command");
    for token in &tokens {
        let claims = drbook_fabric_azure::Claims::of(token).expect("an Entra JWT");
        assert_eq!(claims.appid.as_deref(), Some(CLIENT_ID));
        assert_nowhere(token, &[&check, &op], f.data.path());
    }
    assert_nowhere(CLIENT_SECRET, &[&check, &op], f.data.path());
}

#[test]
fn azure_check_says_what_to_do_when_the_azure_cli_gives_no_token() {
    let f = fixture(None);

    // No az on the PATH (azure_identity runs it with `/bin/sh -c`, by
    // its full path): a PATH of one empty directory.
    let empty = f.az.shim.with_file_name("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let mut bare = f.azure.command(&["azure", "check"]);
    f.az.isolate(&mut bare)
        .env_remove("IDENTITY_ENDPOINT")
        .env("PATH", &empty);
    fails(
        &bare.output().unwrap(),
        "az not found on PATH",
        "install the Azure CLI",
    );

    // az, signed in to nothing.
    f.az.use_cloud(&f.base());
    fails(
        &f.drbook(&["azure", "check"]),
        "ERROR: Please run 'az login' to setup account.",
        "sign in to the Azure CLI",
    );

    // Signed in to another tenant, drbook naming none: ARM refuses the
    // token for the subscription, and the fix says which tenant to sign
    // in to.
    f.az.login(OTHER_CLIENT_ID, OTHER_TENANT, &["--allow-no-subscriptions"]);
    let other = f.drbook(&["azure", "check"]);
    fails(
        &other,
        "InvalidAuthenticationTokenTenant",
        &format!("the token is from tenant {OTHER_TENANT}"),
    );
    says(&other, &format!("az login --tenant {}", f.tenant));

    // AZURE_TENANT_ID asks az for that tenant's token, as tenant-id does.
    let asking = |tenant: &str| {
        let mut asked = f.azure.command(&["azure", "check"]);
        f.az.isolate(&mut asked)
            .env_remove("IDENTITY_ENDPOINT")
            .env("AZURE_TENANT_ID", tenant);
        asked.output().unwrap()
    };
    fails(
        &asking(&f.tenant),
        "AADSTS700016",
        &format!("the Azure CLI is not signed in to tenant {}", f.tenant),
    );
    // A tenant there is not: az fails with a Python traceback, which
    // drbook leaves out, keeping the exception that names Entra's code.
    let nowhere = "00000000-0000-0000-0000-0000000000f9";
    let unknown = asking(nowhere);
    fails(
        &unknown,
        &format!("AADSTS90002: Tenant '{nowhere}' not found"),
        &format!("there is no tenant {nowhere} in this cloud's Entra ID"),
    );
    for traceback in ["Traceback (most recent call last)", "  File \""] {
        assert!(!text(&unknown).contains(traceback), "{}", text(&unknown));
    }
}

/// With `tenant-id` set, drbook asks az for that tenant's token
/// (`--tenant`); az signed in to another tenant cannot give it.
#[test]
fn a_configured_tenant_that_the_azure_cli_is_not_signed_in_to_is_named_with_its_fix() {
    let f = fixture(Some(&Config::default().tenant));
    f.az.use_cloud(&f.base());
    f.az.login(OTHER_CLIENT_ID, OTHER_TENANT, &["--allow-no-subscriptions"]);
    let check = f.drbook(&["azure", "check"]);
    fails(
        &check,
        // az's words, then Entra's: the app is not in that tenant.
        "Could not retrieve credential from local cache for service principal",
        &format!("the Azure CLI is not signed in to tenant {}", f.tenant),
    );
    says(&check, "AADSTS700016");
    says(&check, &format!("az login --tenant {}", f.tenant));
}
