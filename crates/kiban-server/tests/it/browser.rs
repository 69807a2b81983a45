//! The UI in a real headless Chromium, in both languages: a provider sends an extract through the intake
//! zone's page; add a user who enrolls in the browser,
//! sign in with a TOTP code, record an
//! opt-out and print its notice, run linkage and decide a pair of its review queue, make a release and read its report, verify the audit log.
//! `KIBAN_SCREENSHOTS=DIR` keeps a screenshot of each step there.

use chrono::TimeDelta;
use kiban_server::ServerOptions;

use crate::webdriver::Browser;
use crate::{Account, TestServer};

/// Signs `account` in through the login form, in the browser's current language.
fn sign_in(server: &TestServer, browser: &Browser, account: &Account) {
    browser.goto(&format!("{}/login", server.base));
    server.advance(TimeDelta::seconds(31));
    browser.type_into("#login input[name=user]", &account.name);
    browser.type_into("#login input[name=password]", &account.password);
    browser.type_into("#login input[name=code]", &server.code(account));
    browser.click("#login button[type=submit]");
    let whoami = browser.text("#whoami");
    assert!(whoami.contains(&account.name), "signed in as {whoami}");
}

fn sign_out(browser: &Browser) {
    browser.click("#sign-out");
    browser.find("#login");
}

/// A FHIR provider registered and published, its upload credential, and its extract as a tar file.
fn upload_fixture(server: &TestServer) -> (String, std::path::PathBuf, tempfile::TempDir) {
    let temporary = tempfile::tempdir().unwrap();
    let folder = temporary.path().to_owned();
    let reference_date = chrono::NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
    let cohort = folder.join("cohort");
    let request = kiban_service::SynthRequest {
        patients: 40,
        providers: 1,
        seed: 13,
        format: kiban_synth::OutputFormat::Fhir,
        reference_date,
        out: cohort.clone(),
    };
    kiban_service::synth(&request, false).unwrap();
    let providers = std::fs::read_to_string(cohort.join("providers.csv")).unwrap();
    let code = providers.lines().nth(1).unwrap().split(',').next().unwrap().to_owned();
    let desk = server.add_account("upload-desk", &["intake-operator"]);
    let desk = crate::sign_in(&server.app, &desk.name, &desk.password, &desk.totp);
    let register = kiban_service::Request::ProviderAdd(kiban_service::ProviderRequest {
        code: code.clone(),
        name: "Upload Clinic".to_owned(),
        address: "Chiba".to_owned(),
        notified_on: chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
        published_on: Some(chrono::NaiveDate::from_ymd_opt(2026, 1, 20).unwrap()),
    });
    server.app.execute(&desk, register).unwrap();
    let issue = kiban_service::Request::ProviderCredentialIssue { provider: code.clone() };
    let kiban_service::Response::ProviderCredential { token, .. } =
        server.app.execute(&server.root, issue).unwrap()
    else {
        panic!("a credential")
    };
    let archive = folder.join("extract.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    builder.append_dir_all(".", cohort.join(&code)).unwrap();
    builder.finish().unwrap();
    (token.expose_secret().to_owned(), archive, temporary)
}

fn shot(browser: &Browser, name: &str) {
    if let Some(dir) = std::env::var_os("KIBAN_SCREENSHOTS") {
        browser.screenshot(&std::path::Path::new(&dir).join(format!("{name}.png")));
    }
}

#[test]
fn staff_work_through_the_ui_in_japanese_and_in_english() {
    let Some(browser) = Browser::start() else { return };
    // Many sign-ins within a minute from one address: the rate limit (tested on its own) is set wide.
    let server = TestServer::start(
        ServerOptions { login_attempts_per_minute: 1000, ..ServerOptions::default() },
        Some(300),
    );
    // Twins at two providers leave pairs to the review queue: one is decided in each language.
    crate::seed_review_pairs(&server, 2);
    let intake = server.add_account("uketsuke", &["intake-operator"]);
    let processor = server.add_account("kakou", &["processor"]);
    let auditor = server.add_account("kansa", &["auditor"]);
    let admin = server.add_account("kanri", &["security-admin"]);

    // A provider with its own upload credential and an extract packed as one tar archive.
    let (credential, archive, _folder) = upload_fixture(&server);

    for (round, lang) in ["ja", "en"].into_iter().enumerate() {
        browser.goto(&format!("{}/login", server.base));
        if browser.attribute("html", "lang") != lang {
            browser.click("#lang-switch");
        }
        assert_eq!(browser.attribute("html", "lang"), lang);
        let (sign_in_text, released_text, verified_text) = match lang {
            "ja" => ("ログイン", "完了", "検証しました"),
            _ => ("Sign in", "Done", "verify"),
        };
        assert_eq!(browser.text("#login button[type=submit]"), sign_in_text);

        // The provider sends its extract through the intake zone's page (the second time it is recognized).
        browser.goto(&format!("{}/intake/", server.base));
        browser.type_into("#upload input[name=credential]", &credential);
        browser.click("#upload select[name=format] option[value=fhir]");
        browser.choose_file("#upload input[name=extract]", &archive);
        browser.click("#upload button[type=submit]");
        let batch = browser.attribute("#upload-result[data-batch]", "data-batch");
        assert!(batch.parse::<u64>().is_ok(), "a batch number: {batch}");
        let answer = browser.text("#upload-result");
        assert_eq!(
            answer.contains(if lang == "ja" { "受領済み" } else { "already received" }),
            round == 1,
            "{answer}"
        );
        shot(&browser, &format!("{lang}-intake-upload"));

        // The security administrator adds a user, who enrolls in the browser and signs in with the
        // authenticator secret shown once.
        sign_in(&server, &browser, &admin);
        browser.goto(&format!("{}/users", server.base));
        let newcomer = format!("shinjin-{lang}");
        browser.type_into("#user-form input[name=name]", &newcomer);
        browser.click("#user-form button[type=submit]");
        let token = browser.text("#enrollment-token");
        assert!(token.starts_with("kiban_"), "an enrollment token");
        // The administrator gives the new account a second role.
        let roles_form = format!("form[action='/users/{newcomer}/roles']");
        browser.type_into(&format!("{roles_form} input[name=roles]"), "intake-operator,reviewer");
        browser.click(&format!("{roles_form} button"));
        let changed = (0..100).any(|_| {
            let done = server.roles_of(&newcomer) == ["intake-operator", "reviewer"];
            if !done {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            done
        });
        assert!(changed, "the roles set in the page are the account's: {:?}", server.roles_of(&newcomer));
        browser.find("#users");
        sign_out(&browser);
        browser.goto(&format!("{}/enroll", server.base));
        browser.type_into("#enroll input[name=user]", &newcomer);
        browser.type_into("#enroll input[name=token]", &token);
        browser.type_into("#enroll input[name=password]", "Shinjin-Kiban-Pass-77");
        browser.click("#enroll button[type=submit]");
        let secret = browser.text("#totp-secret");
        assert_eq!(browser.find_all("#recovery-codes li"), 10, "ten recovery codes, shown once");
        let enrolled = Account {
            name: newcomer.clone(),
            password: "Shinjin-Kiban-Pass-77".to_owned(),
            totp: kiban_auth::TotpSecret::from_base32(&secret).unwrap(),
        };
        sign_in(&server, &browser, &enrolled);
        sign_out(&browser);

        // The intake desk records an opt-out and prints its notice.
        sign_in(&server, &browser, &intake);
        shot(&browser, &format!("{lang}-dashboard"));
        browser.goto(&format!("{}/optouts", server.base));
        browser.type_into("#optout-form input[name=requester_name]", "山田 太郎");
        browser.type_into("#optout-form input[name=received_on]", "12012026");
        browser.type_into("#optout-form input[name=kana]", "ヤマダ タロウ");
        browser.type_into("#optout-form input[name=birth_date]", &format!("1950-05-0{}", round + 1));
        browser.type_into("#optout-form input[name=sex]", "M");
        browser.type_into("#optout-form input[name=issuer]", "Test Producer");
        browser.click("#optout-form button[type=submit]");
        browser.find("#optout-recorded");
        shot(&browser, &format!("{lang}-optout"));
        browser.click("#notice-link");
        browser.wait_url("/notice");
        let heading = browser.text("h1");
        assert!(
            heading.contains("提供の停止の求め"),
            "the printed notice is the request's written notice: {heading}"
        );
        browser.goto(&format!("{}/", server.base));
        sign_out(&browser);

        // The processor runs linkage and makes a release, then opens its report.
        sign_in(&server, &browser, &processor);
        browser.goto(&format!("{}/linkage", server.base));
        browser.click("#run-linkage");
        browser.find("#job-state[data-state=done]");
        // A pair of the review queue is decided to be one person; it leaves the queue.
        browser.goto(&format!("{}/linkage", server.base));
        let pair = browser.attribute("#review tr[data-pair]", "data-pair");
        let row = format!("#review tr[data-pair='{pair}']");
        browser.type_into(&format!("{row} input[name=reason]"), "same kana, birth date and insurer");
        browser.click(&format!("{row} button[value=same]"));
        assert!(browser.gone(&row), "the decided pair left the queue");
        browser.find("#run-linkage");
        shot(&browser, &format!("{lang}-review"));
        browser.goto(&format!("{}/releases", server.base));
        browser.type_into("#release-form input[name=recipient_name]", &format!("Browser University {lang}"));
        browser.type_into("#release-form input[name=recipient_address]", "Osaka");
        browser.click("#start-release");
        browser.find("#job-state:not([data-state=running])");
        assert_eq!(browser.attribute("#job-state", "data-state"), "done", "{}", browser.text("#job-state"));
        assert!(browser.text("#job-state").starts_with(released_text));
        shot(&browser, &format!("{lang}-release-done"));
        browser.click("#job-link");
        browser.wait_url("/report");
        let report = browser.source();
        assert!(report.contains(&format!("Browser University {lang}")), "the report names its recipient");
        browser.goto(&format!("{}/", server.base));
        sign_out(&browser);

        // The auditor verifies the audit log.
        sign_in(&server, &browser, &auditor);
        browser.goto(&format!("{}/audit", server.base));
        browser.click("#verify-audit");
        let verified = browser.text("#audit-verified");
        assert!(verified.contains(verified_text), "{verified}");
        let n_entries: u64 = browser.attribute("#audit-verified", "data-entries").parse().unwrap();
        assert!(n_entries > 20, "{n_entries} entries verified");
        shot(&browser, &format!("{lang}-audit"));
        sign_out(&browser);
    }
}
