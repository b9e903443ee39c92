//! `drbook serve` with `[oidc]` and `[console] four-eyes` in `drbook.toml`,
//! end to end: a person signs in through the provider (drbook-oidc-fake)
//! and approves from the console, while the one who reran the job through
//! the API (`drbook --server ... jobs rerun`) is refused its approval by the
//! four-eyes rule.

mod common;
mod runbooks;

use common::{drbook, exits, wait_for};
use drbook_oidc_fake::{Provider, User};
use std::path::Path;
use std::process::Command;

const SECRET: &str = "oidc-client-s3cret";

/// `drbook token create`'s secret.
fn token(dir: &Path, name: &str, scope: &str) -> String {
    let made = exits(
        drbook(dir),
        &["token", "create", "--name", name, "--scope", scope],
        0,
    );
    String::from_utf8_lossy(&made.stdout).trim().to_string()
}

/// `drbook` aimed at `url` with `token`, from a directory without a store.
fn remote(url: &str, token: &str) -> Command {
    let nowhere = tempfile::tempdir().unwrap().keep();
    let mut command = drbook(&nowhere);
    command.args(["--server", url, "--token", token]);
    command
}

fn set_cookie(response: &reqwest::Response, name: &str) -> String {
    let found = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie"));
    found.split(';').next().unwrap().to_string()
}

/// Signs in through the provider as a browser would: the session cookie.
async fn sign_in(http: &reqwest::Client, url: &str) -> String {
    let started = http
        .get(format!("{url}/ui/sign-in/oidc"))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 303);
    let flow = set_cookie(&started, "drbook_oidc");
    let authorize = started.headers()["location"].to_str().unwrap().to_string();
    let approved = http.get(authorize).send().await.unwrap();
    let callback = approved.headers()["location"].to_str().unwrap().to_string();
    let done = http
        .get(callback)
        .header("cookie", flow)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    set_cookie(&done, "drbook_session")
}

#[test]
fn serve_signs_people_in_through_oidc_and_holds_the_four_eyes_rule() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let provider = runtime.block_on(Provider::start("drbook", SECRET)).unwrap();
    provider.set_user(
        User::new("carol-sub")
            .email("carol@example.com")
            .groups(["dr-approvers"]),
    );
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // The port the redirect URL names, free a moment ago.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        dir.join("drbook.toml"),
        format!(
            "[fabric]\nspeed = \"instant\"\n[console]\nfour-eyes = true\n[oidc]\nissuer = \"{}\"\n\
             client-id = \"drbook\"\nclient-secret-env = \"DRBOOK_TEST_OIDC_SECRET\"\n\
             redirect-url = \"http://127.0.0.1:{port}/ui/callback\"\n\
             [[oidc.roles]]\nclaim = \"groups\"\nvalue = \"dr-approvers\"\nscopes = [\"viewer\", \"approver\"]\n",
            provider.issuer()
        ),
    )
    .unwrap();
    exits(drbook(dir), &["fabric", "init", "--demo"], 0);
    let plan = dir.join("manual.toml");
    std::fs::write(
        &plan,
        "name = \"manual\"\nprimary_region = \"eastus\"\nrecovery_region = \"westus\"\n\
         [[groups]]\nname = \"web\"\nvms = [\"web-01\"]\n\
         pre = [{ name = \"dns\", manual = \"Switch DNS to westus\" }]\n",
    )
    .unwrap();
    let alice = token(dir, "alice", "operator,approver");
    let bob = token(dir, "bob", "approver");

    let mut serve = drbook(dir);
    serve.env("DRBOOK_TEST_OIDC_SECRET", SECRET).args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    let (_server, url) = common::serve(&mut serve);

    let runbook = runbooks::failover_plan();
    let run = [
        "run",
        runbook.to_str().unwrap(),
        "--plan",
        plan.to_str().unwrap(),
        "--detach",
    ];
    let first = String::from_utf8_lossy(&exits(drbook(dir), &run, 0).stdout)
        .trim()
        .to_string();
    wait_for(dir, &first, "Suspended");
    // Bob rejects its step (so the plan's VM stays where it is).
    exits(remote(&url, &bob), &["jobs", "reject", &first], 0);
    wait_for(dir, &first, "Failed");

    // Alice reruns it through the API: she started the new job.
    let rerun = exits(remote(&url, &alice), &["jobs", "rerun", &first], 0);
    let second = String::from_utf8_lossy(&rerun.stdout).trim().to_string();
    assert_ne!(second, first);
    wait_for(dir, &second, "Suspended");
    let refused = exits(remote(&url, &alice), &["jobs", "approve", &second], 2);
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("403") && why.contains("four-eyes rule") && why.contains("alice started job"),
        "{why}"
    );

    // Carol signs in through the provider and approves from the job's page.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    runtime.block_on(async {
        let session = sign_in(&http, &url).await;
        let page = http
            .get(format!("{url}/ui/jobs/{second}"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let start = page.find("action=\"/ui/jobs/").expect("a decision form") + 8;
        let action = &page[start..start + page[start..].find('"').unwrap()];
        let decided = http
            .post(format!("{url}{action}"))
            .header("cookie", &session)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("decision=approve&comment=checked")
            .send()
            .await
            .unwrap();
        assert_eq!(decided.status(), 303, "{:?}", decided.text().await);
    });
    wait_for(dir, &second, "Completed");
    // The evidence report names her as the approver.
    let out = dir.join("report.json");
    let args = ["report", &second, "--format", "json", "--out"];
    let mut report = drbook(dir);
    report.args(args).arg(&out);
    exits(report, &[], 0);
    let report = std::fs::read_to_string(&out).unwrap();
    assert!(report.contains("carol@example.com"), "{report}");
}
