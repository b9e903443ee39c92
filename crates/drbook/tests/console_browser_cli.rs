//! The console in a real browser: Debian's Chromium, headless, driven
//! through chromedriver (WebDriver, with `fantoccini`), against a real
//! `drbook serve` whose worker runs the example `failover-plan` runbook at
//! the simulator's instant speed. A person signs in through OpenID Connect
//! (drbook-oidc-fake, started by the test, approving at once and mapped to
//! `approver` by a group), opens a job before it has run, sees its lines
//! arrive live and the form of its manual step appear without a reload,
//! approves the step with a comment through the form, and sees it and its
//! VM complete; the fabric's page, left open in another window, shows the
//! VM failed over without a reload; the audit trail names who decided. A PNG of each stage is written to
//! `target/test-artifacts/console/`.
//!
//! The job is held back deterministically, not by timing: a first job of
//! the same plan waits at its manual step, so the second, queued behind it,
//! has written nothing when its page is opened; stopping the first lets
//! the second run.
//!
//! Chromium and chromedriver must be there under CI (`scripts/test.sh`
//! installs them); elsewhere the test says loudly that it did not run.

mod common;
mod runbooks;

use common::{drbook, exits, serve, wait_for};
use drbook_oidc_fake::{Provider, User};
use fantoccini::{Client, ClientBuilder, Locator};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The console's client secret at the provider.
const SECRET: &str = "oidc-client-s3cret";

/// How long a stage may take before the test gives up on it (a hang, not
/// a speed: the stages take well under a second each).
const PATIENCE: Duration = Duration::from_secs(60);

/// Whether the browser is there; under CI it must be.
fn browser_present() -> bool {
    let present = [CHROMIUM, CHROMEDRIVER]
        .iter()
        .all(|path| Path::new(path).exists());
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMIUM} and {CHROMEDRIVER} are needed: apt-get install chromium chromium-driver \
             (scripts/test.sh does)"
        );
        eprintln!(
            "SKIPPED: console_browser_cli needs {CHROMIUM} and {CHROMEDRIVER} \
             (apt-get install chromium chromium-driver)"
        );
    }
    present
}

/// chromedriver on a free port of 127.0.0.1, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(logs: &Path) -> Driver {
        // A free port: chromedriver takes no port 0.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!(
                "--log-path={}",
                logs.join("chromedriver.log").display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// A headless Chromium session, once chromedriver listens. The flags
    /// keep Chromium off the network beyond the server under test.
    async fn session(&self, profile: &Path) -> Client {
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            "--disable-quic".to_string(),
            "--no-first-run".to_string(),
            "--disable-background-networking".to_string(),
            "--disable-component-update".to_string(),
            "--disable-sync".to_string(),
            "--disable-dev-shm-usage".to_string(),
            // No name resolves: everything the test serves is at 127.0.0.1.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1".to_string(),
            "--window-size=1280,900".to_string(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_string(),
            serde_json::json!({ "binary": CHROMIUM, "args": args }),
        );
        let start = Instant::now();
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&self.url)
                .await
            {
                Ok(client) => return client,
                // chromedriver is still starting.
                Err(_) if start.elapsed() < PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no browser session from chromedriver at {}: {e}", self.url),
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the screenshots go: `target/test-artifacts/console/`.
fn artifacts() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .to_path_buf();
    let dir = target.join("test-artifacts").join("console");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes the page as the browser shows it now to `<stage>.png`.
async fn screenshot(browser: &Client, stage: &str) {
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{stage}: not a PNG");
    std::fs::write(artifacts().join(format!("{stage}.png")), png).unwrap();
}

/// The text of the first element `css` finds, once it holds `holds`
/// (waiting for the page's script), or a failure naming what the page showed.
async fn wait_text(browser: &Client, css: &str, holds: &str) -> String {
    wait_for_text(browser, Locator::Css(css), holds).await
}

/// [`wait_text`], for any locator.
async fn wait_for_text(browser: &Client, locator: Locator<'_>, holds: &str) -> String {
    let start = Instant::now();
    loop {
        let text = match browser.find(locator).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(holds) {
            return text;
        }
        if start.elapsed() > PATIENCE {
            let source = browser.source().await.unwrap_or_default();
            panic!("{locator:?} never held {holds:?} (it holds {text:?}); the page:\n{source}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The person the provider signs in, as the console names them.
const PERSON: &str = "ic@example.com";

/// Signs in with the provider from the sign-in page's link: to the
/// provider, which approves at once, back to the callback, whose page
/// refreshes to the jobs; until the jobs' page names who is signed in.
async fn sign_in(browser: &Client, url: &str) {
    browser.goto(&format!("{url}/ui/sign-in")).await.unwrap();
    screenshot(browser, "01-sign-in").await;
    browser
        .find(Locator::Css("p.oidc a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let start = Instant::now();
    while browser.current_url().await.unwrap().path() != "/ui/jobs" {
        assert!(
            start.elapsed() < PATIENCE,
            "never back at the jobs after signing in"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_text(browser, "#who", PERSON).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_follows_a_job_live_approves_its_manual_step_and_sees_it_complete_in_chromium() {
    if !browser_present() {
        return;
    }
    let provider = Provider::start("drbook", SECRET).await.unwrap();
    provider.set_user(
        User::new("ic-sub")
            .email(PERSON)
            .groups(["dr-incident-commanders"]),
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
            "[fabric]\nspeed = \"instant\"\n[oidc]\nissuer = \"{}\"\nclient-id = \"drbook\"\n\
             client-secret-env = \"DRBOOK_TEST_OIDC_SECRET\"\n\
             redirect-url = \"http://127.0.0.1:{port}/ui/callback\"\n\
             [[oidc.roles]]\nclaim = \"groups\"\nvalue = \"dr-incident-commanders\"\n\
             scopes = [\"viewer\", \"approver\"]\n",
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
    let (_server, url) = serve(drbook(dir).env("DRBOOK_TEST_OIDC_SECRET", SECRET).args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]));

    // The first job holds the plan at its manual step; the second waits
    // behind it, having run nothing.
    let runbook = runbooks::failover_plan();
    let run = |queue: bool| {
        let mut args = vec![
            "run",
            runbook.to_str().unwrap(),
            "--plan",
            plan.to_str().unwrap(),
            "--detach",
        ];
        if queue {
            args.push("--queue");
        }
        let output = exits(drbook(dir), &args, 0);
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let first = run(false);
    wait_for(dir, &first, "Suspended");
    let job = run(true);

    let logs = tempfile::tempdir().unwrap();
    let driver = Driver::start(logs.path());
    let profile = tempfile::tempdir().unwrap();
    let browser = driver.session(profile.path()).await;

    sign_in(&browser, &url).await;
    screenshot(&browser, "02-signed-in").await;

    // The fabric's page, left open in a second window: web-01 runs in the
    // primary region.
    let jobs_window = browser.window().await.unwrap();
    let fabric_window = browser.new_window(false).await.unwrap().handle;
    browser
        .switch_to_window(fabric_window.clone())
        .await
        .unwrap();
    browser.goto(&format!("{url}/ui/fabric")).await.unwrap();
    let row = "//tr[td[@class='vm' and text()='web-01']]";
    let before = browser
        .find(Locator::XPath(row))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(before.contains("eastus (Primary)"), "{before}");
    screenshot(&browser, "03-fabric-before").await;
    browser.switch_to_window(jobs_window).await.unwrap();

    // The queued job's page, before it has written a line.
    browser.goto(&format!("{url}/ui/jobs/{job}")).await.unwrap();
    assert_eq!(wait_text(&browser, "#status", "New").await, "New");
    let rendered = browser.find_all(Locator::Css("#lines li")).await.unwrap();
    assert!(rendered.is_empty(), "the job has written nothing yet");
    screenshot(&browser, "04-queued").await;

    // The first job stopped, the second runs: its lines arrive on the open
    // page, up to its manual step.
    exits(drbook(dir), &["jobs", "stop", &first], 0);
    wait_text(&browser, "#lines", "failover of plan `manual`").await;
    wait_text(
        &browser,
        "#lines",
        "waiting for approval: Switch DNS to westus",
    )
    .await;
    screenshot(&browser, "05-lines-live").await;

    // The page, not reloaded, renews itself: the job is suspended and the
    // form to decide its step has appeared. Approved with a comment.
    assert_eq!(
        wait_text(&browser, "#status", "Suspended").await,
        "Suspended"
    );
    wait_text(&browser, "section.decision", "Switch DNS to westus").await;
    browser
        .find(Locator::Css("textarea[name=comment]"))
        .await
        .unwrap()
        .send_keys("DNS switched by the browser")
        .await
        .unwrap();
    screenshot(&browser, "06-approving").await;
    browser
        .find(Locator::Css("button[value=approve]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&browser, "#status", "Completed").await;
    wait_text(
        &browser,
        "#lines",
        &format!("manual step `dns` approved by {PERSON}: DNS switched by the browser"),
    )
    .await;
    assert_eq!(
        browser.current_url().await.unwrap().path(),
        format!("/ui/jobs/{job}"),
        "the form leads back to the job's page"
    );
    let vms = wait_text(&browser, "table.vms tbody", "Succeeded").await;
    assert!(vms.contains("web-01") && vms.contains("failover"), "{vms}");
    screenshot(&browser, "07-completed").await;
    let shown: serde_json::Value =
        serde_json::from_slice(&exits(drbook(dir), &["jobs", "show", &job], 0).stdout).unwrap();
    assert_eq!(shown["status"], "Completed", "{shown:#}");

    // The fabric's window, never reloaded, shows web-01 failed over.
    let jobs_window = browser.window().await.unwrap();
    browser.switch_to_window(fabric_window).await.unwrap();
    let after = wait_for_text(&browser, Locator::XPath(row), "westus (Recovery)").await;
    assert!(after.contains("web-01"), "{after}");
    screenshot(&browser, "08-fabric-after").await;
    browser.switch_to_window(jobs_window).await.unwrap();

    // The audit trail: who decided, with the comment, and who stopped.
    browser
        .goto(&format!("{url}/ui/audit?kind=approved"))
        .await
        .unwrap();
    let decided = wait_text(&browser, "table.audit tbody", "DNS switched by the browser").await;
    assert!(
        decided.contains(PERSON) && decided.contains(&job),
        "{decided}"
    );
    screenshot(&browser, "09-audit").await;

    browser.close().await.unwrap();
}
