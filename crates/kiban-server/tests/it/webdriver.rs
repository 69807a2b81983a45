//! A small W3C WebDriver client over `chromedriver` and Debian's headless Chromium: enough to sign in,
//! fill forms, click and read pages as a person would.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How often, and how long between, a wait looks again (a bound, not a timing assertion).
const ATTEMPTS: usize = 600;
const PAUSE: Duration = Duration::from_millis(100);

/// A running chromedriver with one browser session; both end on drop.
pub(crate) struct Browser {
    agent: ureq::Agent,
    base: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium, or says why not and returns `None` (neither is
    /// installed: `.ci/run` installs both).
    pub(crate) fn start() -> Option<Browser> {
        for program in [CHROMEDRIVER, CHROMIUM] {
            if !std::path::Path::new(program).exists() {
                eprintln!(
                    "skipping the browser test: {program} is not installed (apt-get install chromium chromium-driver)"
                );
                return None;
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let base = format!("http://127.0.0.1:{port}");
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser { agent, base, driver, _profile: profile };
        // chromedriver takes a moment to listen.
        let ready = (0..ATTEMPTS).any(|_| {
            let up = browser.agent.get(&format!("{}/status", browser.base)).call().is_ok();
            if !up {
                std::thread::sleep(PAUSE);
            }
            up
        });
        assert!(ready, "chromedriver did not start");
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ],
            },
        }}});
        let session = browser.call("POST", "/session", Some(capabilities));
        let id = session["sessionId"].as_str().expect("a WebDriver session").to_owned();
        browser.base = format!("{}/session/{id}", browser.base);
        Some(browser)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let mut response = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self.agent.post(&url).send_json(body.unwrap_or_else(|| json!({}))),
        }
        .unwrap();
        let status = response.status().as_u16();
        let value: Value = response.body_mut().read_json().unwrap();
        assert_eq!(status, 200, "WebDriver {method} {path}: {value}");
        value["value"].clone()
    }

    /// Opens `url` and waits for it to load.
    pub(crate) fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    pub(crate) fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap_or_default().to_owned()
    }

    /// The page's HTML as the browser holds it.
    pub(crate) fn source(&self) -> String {
        self.call("GET", "/source", None).as_str().unwrap_or_default().to_owned()
    }

    fn find_now(&self, css: &str) -> Option<String> {
        let url = format!("{}/element", self.base);
        let mut response =
            self.agent.post(&url).send_json(json!({ "using": "css selector", "value": css })).unwrap();
        let ok = response.status().as_u16() == 200;
        let value: Value = response.body_mut().read_json().unwrap();
        ok.then(|| value["value"][ELEMENT].as_str().map(str::to_owned)).flatten()
    }

    /// The element `css` selects, waiting for it to appear (a page loading, a job finishing).
    pub(crate) fn find(&self, css: &str) -> String {
        for _ in 0..ATTEMPTS {
            if let Some(element) = self.find_now(css) {
                return element;
            }
            std::thread::sleep(PAUSE);
        }
        panic!("no element {css} on {}:\n{}", self.url(), self.source());
    }

    /// How many elements `css` selects now.
    pub(crate) fn find_all(&self, css: &str) -> usize {
        let found = self.call("POST", "/elements", Some(json!({ "using": "css selector", "value": css })));
        found.as_array().map_or(0, Vec::len)
    }

    /// Waits until the page's address contains `part` (a link followed, a form answered).
    pub(crate) fn wait_url(&self, part: &str) {
        let reached = (0..ATTEMPTS).any(|_| {
            let here = self.url().contains(part);
            if !here {
                std::thread::sleep(PAUSE);
            }
            here
        });
        assert!(reached, "never reached a page at {part}; on {}", self.url());
    }

    /// Waits until nothing matches `css` (a form's answer replaced the page); false if it never goes.
    pub(crate) fn gone(&self, css: &str) -> bool {
        (0..ATTEMPTS).any(|_| {
            let gone = self.find_all(css) == 0;
            if !gone {
                std::thread::sleep(PAUSE);
            }
            gone
        })
    }

    pub(crate) fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.call("POST", &format!("/element/{element}/clear"), None);
        self.call("POST", &format!("/element/{element}/value"), Some(json!({ "text": text })));
    }

    /// Chooses `path` in the file input `css`.
    pub(crate) fn choose_file(&self, css: &str, path: &std::path::Path) {
        let element = self.find(css);
        self.call(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": path.display().to_string() })),
        );
    }

    pub(crate) fn click(&self, css: &str) {
        let element = self.find(css);
        self.call("POST", &format!("/element/{element}/click"), None);
    }

    /// The visible text of the element `css` selects.
    pub(crate) fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.call("GET", &format!("/element/{element}/text"), None).as_str().unwrap_or_default().to_owned()
    }

    /// An attribute of the element `css` selects.
    pub(crate) fn attribute(&self, css: &str, name: &str) -> String {
        let element = self.find(css);
        self.call("GET", &format!("/element/{element}/attribute/{name}"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Saves a screenshot (PNG) to `path`.
    pub(crate) fn screenshot(&self, path: &std::path::Path) {
        let data = self.call("GET", "/screenshot", None);
        let bytes = base64_decode(data.as_str().unwrap_or_default());
        std::fs::write(path, bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.base).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 (the screenshot's encoding), without a crate for it.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |byte: u8| match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let sextets: Vec<u8> = text.bytes().filter_map(value).collect();
    sextets
        .chunks(4)
        .flat_map(|chunk| {
            let n = chunk.iter().fold(0u32, |n, s| (n << 6) | u32::from(*s)) << (6 * (4 - chunk.len()));
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            bytes.into_iter().take(chunk.len().saturating_sub(1))
        })
        .collect()
}
