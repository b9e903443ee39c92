//! The Entra ID credentials for real: `azure_identity`'s client-secret and
//! workload-identity credentials in a drbook process, pointed at the
//! emulator's Entra token endpoint with `AZURE_AUTHORITY_HOST` (the only way
//! `azure_identity` 1.0 takes one besides `ClientOptions::cloud`), get a
//! token that ARM routes take; `drbook azure check` names each failure and
//! its fix; no secret reaches a log at trace level or the data dir.

use drbook_arm_emulator::{App, AppCredential, Config};
use std::path::Path;
use std::process::{Command, Output, Stdio};

#[path = "common/azure.rs"]
mod azure;
#[allow(dead_code)] // serve_arm() is for the tests of serve-arm itself
mod common;

use azure::{assert_nowhere, fails, text, AzureHost};

const CLIENT_ID: &str = "6f1c2a4e-0000-4000-8000-00000000a001";
const OBJECT_ID: &str = "6f1c2a4e-0000-4000-8000-00000000b001";
const CLIENT_SECRET: &str = "Qx8~drbook-test-client-secret.value";
const OTHER_TENANT: &str = "00000000-0000-0000-0000-0000000000f2";
const OTHER_CLIENT_ID: &str = "6f1c2a4e-0000-4000-8000-00000000a002";
const UNROLED_CLIENT_ID: &str = "6f1c2a4e-0000-4000-8000-00000000a003";
const UNROLED_OBJECT_ID: &str = "6f1c2a4e-0000-4000-8000-00000000b003";
const WORKLOAD_CLIENT_ID: &str = "6f1c2a4e-0000-4000-8000-00000000a004";
/// A Kubernetes service account token, as the AKS webhook projects it.
const FEDERATED_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZHI6ZHJib29rIn0.c2ln";

fn secret_app(tenant: &str, client_id: &str, object_id: &str) -> App {
    App {
        tenant: tenant.to_string(),
        client_id: client_id.to_string(),
        object_id: object_id.to_string(),
        credential: AppCredential::Secret(CLIENT_SECRET.to_string()),
    }
}

/// A host on the azure backend against an emulator (`fixture`).
struct Fixture {
    azure: AzureHost,
    /// The subscription's.
    tenant: String,
    /// The host's data dir.
    data: tempfile::TempDir,
    /// Where the test keeps its files: the federated token ([`TOKEN_FILE`]).
    dir: tempfile::TempDir,
    _sim: tempfile::TempDir,
}

impl Fixture {
    fn parts(&self) -> (&AzureHost, &str, &Path, &Path) {
        (&self.azure, &self.tenant, self.data.path(), self.dir.path())
    }
}

/// The federated token's file, in [`Fixture::dir`].
const TOKEN_FILE: &str = "azure-identity-token";

/// The emulator with: an app with a role in the subscription's tenant; one
/// in another tenant; one without a role on the vault; a workload identity
/// whose federated token is [`FEDERATED_TOKEN`], in [`TOKEN_FILE`].
fn fixture() -> Fixture {
    let (sim, data, dir) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let token_file = dir.path().join(TOKEN_FILE);
    std::fs::write(&token_file, FEDERATED_TOKEN).unwrap();
    let azure = AzureHost::start_with(
        sim.path(),
        data.path(),
        &[],
        None,
        move |config: &mut Config| {
            let home = config.tenant.clone();
            config.apps = vec![
                secret_app(&home, CLIENT_ID, OBJECT_ID),
                secret_app(
                    OTHER_TENANT,
                    OTHER_CLIENT_ID,
                    "6f1c2a4e-0000-4000-8000-00000000b002",
                ),
                secret_app(&home, UNROLED_CLIENT_ID, UNROLED_OBJECT_ID),
                App {
                    tenant: home,
                    client_id: WORKLOAD_CLIENT_ID.to_string(),
                    object_id: "6f1c2a4e-0000-4000-8000-00000000b004".to_string(),
                    credential: AppCredential::FederatedTokenFile(token_file),
                },
            ];
            config.without_role = vec![UNROLED_OBJECT_ID.to_string()];
        },
    );
    Fixture {
        tenant: azure.emulator().endpoints().tenant.clone(),
        azure,
        data,
        dir,
        _sim: sim,
    }
}

/// `drbook args` with `credential` only, at trace level, and `env`.
fn with(azure: &AzureHost, credential: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command: Command = azure.command(&["--azure-credential", credential]);
    command.args(args).env("RUST_LOG", "trace").env(
        "AZURE_AUTHORITY_HOST",
        &azure.emulator().endpoints().authority_host,
    );
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// The client-secret environment of `client_id` in `tenant` with `secret`.
fn secret_env<'a>(tenant: &'a str, client_id: &'a str, secret: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("AZURE_TENANT_ID", tenant),
        ("AZURE_CLIENT_ID", client_id),
        ("AZURE_CLIENT_SECRET", secret),
    ]
}

#[test]
fn a_client_secret_from_the_environment_or_a_file_gets_one_token_for_a_whole_process() {
    let fixture = fixture();
    let (azure, tenant, data, dir) = fixture.parts();
    let emu = azure.emulator();

    let show = with(
        azure,
        "client-secret",
        &secret_env(tenant, CLIENT_ID, CLIENT_SECRET),
        &["--json", "fabric", "show"],
    );
    assert!(show.status.success(), "{}", text(&show));
    let items: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(items.as_array().map(Vec::len), Some(12));
    let counters = emu.counters();
    let arm_requests: u64 = counters
        .requests
        .iter()
        .filter(|(route, _)| !route.ends_with(" token"))
        .map(|(_, n)| n)
        .sum();
    assert!(
        arm_requests > 1,
        "several ARM calls: {:?}",
        counters.requests
    );
    assert_eq!(
        counters.requests.get("POST token"),
        Some(&1),
        "{:?}",
        counters.requests
    );
    assert_eq!(counters.token_fetches, 1);

    // From a file (its first line), the environment holding no secret.
    let file = dir.join("client-secret");
    std::fs::write(&file, format!("{CLIENT_SECRET}\n")).unwrap();
    let toml = data.join("drbook.toml");
    let mut config = std::fs::read_to_string(&toml).unwrap();
    config.push_str(&format!("client-secret-file = {:?}\n", file));
    std::fs::write(&toml, config).unwrap();
    let env = [("AZURE_TENANT_ID", tenant), ("AZURE_CLIENT_ID", CLIENT_ID)];
    let check = with(azure, "client-secret", &env, &["azure", "check"]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains(&format!(
            "application {CLIENT_ID} from client-secret in tenant {tenant}"
        )),
        "{}",
        text(&check)
    );
    assert!(
        text(&check).contains("is readable: 12 protected items"),
        "{}",
        text(&check)
    );
    assert_eq!(emu.counters().token_fetches, 2);

    std::fs::remove_file(&file).unwrap();
    assert_nowhere(CLIENT_SECRET, &[&show, &check], data);
    let tokens = emu.issued_tokens();
    assert_eq!(tokens.len(), 2);
    for token in &tokens {
        assert_nowhere(token, &[&show, &check], data);
    }
}

#[test]
fn workload_identity_signs_in_with_the_federated_token_file() {
    let fixture = fixture();
    let (azure, tenant, data, dir) = fixture.parts();
    let token_file = dir.join(TOKEN_FILE);
    let file = token_file.display().to_string();
    let env = [
        ("AZURE_TENANT_ID", tenant),
        ("AZURE_CLIENT_ID", WORKLOAD_CLIENT_ID),
        ("AZURE_FEDERATED_TOKEN_FILE", file.as_str()),
    ];
    let check = with(azure, "workload-identity", &env, &["azure", "check"]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains(&format!(
            "application {WORKLOAD_CLIENT_ID} from workload-identity in tenant {tenant}"
        )),
        "{}",
        text(&check)
    );
    // The chain finds it by AZURE_FEDERATED_TOKEN_FILE alone.
    let show = with(azure, "chain", &env, &["--json", "fabric", "show"]);
    assert!(show.status.success(), "{}", text(&show));
    assert_nowhere(FEDERATED_TOKEN, &[&check, &show], data);

    // A token the app's federated credential does not match (another
    // service account's, in another file).
    let other = dir.join("another-token");
    std::fs::write(&other, "eyJ.another-service-account.sig").unwrap();
    let other = other.display().to_string();
    let env = [
        env[0],
        env[1],
        ("AZURE_FEDERATED_TOKEN_FILE", other.as_str()),
    ];
    let refused = with(azure, "workload-identity", &env, &["azure", "check"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains("AADSTS700213"),
        "{}",
        text(&refused)
    );
    assert!(
        text(&refused).contains("fix: the federated token in AZURE_FEDERATED_TOKEN_FILE"),
        "{}",
        text(&refused)
    );
}

#[test]
fn azure_check_names_each_credential_failure_and_its_fix() {
    let fixture = fixture();
    let (azure, tenant, data, dir) = fixture.parts();
    let check =
        |credential: &str, env: &[(&str, &str)]| with(azure, credential, env, &["azure", "check"]);

    // No credential: nothing in the environment, no managed identity, no
    // Azure CLI on the PATH.
    let mut bare = azure.command(&["--azure-credential", "chain", "azure", "check"]);
    bare.env_remove("IDENTITY_ENDPOINT").env("PATH", dir);
    let none = bare.output().unwrap();
    fails(
        &none,
        "no credential gave a token",
        "sign in with `az login`",
    );

    // client-secret named, but no secret anywhere.
    let env = [("AZURE_TENANT_ID", tenant), ("AZURE_CLIENT_ID", CLIENT_ID)];
    fails(
        &check("client-secret", &env),
        "no client secret",
        "set AZURE_CLIENT_SECRET",
    );

    let wrong = "not-the-secret";
    fails(
        &check("client-secret", &secret_env(tenant, CLIENT_ID, wrong)),
        "AADSTS7000215",
        &format!("the client secret of application {CLIENT_ID} is wrong"),
    );

    let nowhere = "00000000-0000-0000-0000-0000000000f9";
    fails(
        &check(
            "client-secret",
            &secret_env(nowhere, CLIENT_ID, CLIENT_SECRET),
        ),
        "AADSTS90002",
        "there is no tenant",
    );

    // An app of another tenant gets a token that ARM refuses for this
    // subscription, and the fix names the subscription's tenant.
    fails(
        &check(
            "client-secret",
            &secret_env(OTHER_TENANT, OTHER_CLIENT_ID, CLIENT_SECRET),
        ),
        "InvalidAuthenticationTokenTenant",
        &format!(
            "the token is from tenant {OTHER_TENANT}, which is not the tenant of subscription"
        ),
    );
    let other = check(
        "client-secret",
        &secret_env(OTHER_TENANT, OTHER_CLIENT_ID, CLIENT_SECRET),
    );
    assert!(
        text(&other).contains(&format!("the subscription's tenant, {tenant}")),
        "{}",
        text(&other)
    );

    // An app in the right tenant with no role on the vault: ARM's 403.
    let unroled = check(
        "client-secret",
        &secret_env(tenant, UNROLED_CLIENT_ID, CLIENT_SECRET),
    );
    fails(
        &unroled,
        "AuthorizationFailed",
        &format!("application {UNROLED_CLIENT_ID} has no role on the vault"),
    );
    assert!(
        text(&unroled).contains("Microsoft.RecoveryServices/vaults/replicationProtectedItems/read"),
        "{}",
        text(&unroled)
    );
    assert_nowhere(CLIENT_SECRET, &[&none, &other, &unroled], data);
}

/// `drbook fabric serve-arm` prints the client-secret environment of its
/// app; a client given it reads the vault; neither process logs the secret
/// at trace level.
#[test]
fn serve_arm_prints_a_client_secret_that_works_and_logs_it_nowhere() {
    let (sim, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let init = common::drbook(sim.path())
        .args(["fabric", "init", "--demo"])
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", text(&init));
    let log = sim.path().join("serve-arm.log");
    let mut child = common::drbook(sim.path())
        .args(["--speed", "instant", "--json", "fabric", "serve-arm"])
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let ep: serde_json::Value = serde_json::from_str(&line).unwrap();
    let secret = ep["clientSecretEnv"]["AZURE_CLIENT_SECRET"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(
        data.path().join("drbook.toml"),
        format!(
            "[fabric]\nkind = \"azure\"\nsubscription = {}\nresource-group = {}\nvault = {}\n\
             arm-endpoint = {}\ncredential = \"client-secret\"\nca-file = {}\n",
            ep["subscription"], ep["resourceGroup"], ep["vault"], ep["armEndpoint"], ep["caFile"]
        ),
    )
    .unwrap();
    let mut client = common::drbook(data.path());
    client.args(["azure", "check"]).env("RUST_LOG", "trace");
    for (name, value) in ep["env"]
        .as_object()
        .unwrap()
        .iter()
        .chain(ep["clientSecretEnv"].as_object().unwrap())
    {
        client.env(name, value.as_str().unwrap());
    }
    let check = client.output().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("from client-secret in tenant"),
        "{}",
        text(&check)
    );
    let server_log = std::fs::read_to_string(&log).unwrap();
    assert!(!server_log.is_empty(), "the server logged at trace level");
    assert!(
        !server_log.contains(&secret),
        "the server's log holds the secret"
    );
    std::fs::remove_file(&log).unwrap();
    assert_nowhere(&secret, &[&check], data.path());
    assert_nowhere(&secret, &[], sim.path());
}
