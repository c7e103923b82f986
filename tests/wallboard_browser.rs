//! The wallboard in a real headless Chromium against the demo (with a
//! first-response SLA policy, so that the SLA tiles have something to
//! show): the page loads with no console error, every tile shows a number
//! within 5 s of the load and the numbers are the API's, the counts move
//! as events arrive, `?queue=` shows one queue, and screenshots are saved
//! under target/test-artifacts/.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::browser::Browser;
use common::kafka::{processed, Deskpulse};
use common::{first_response_sla, TempFile};
use serde_json::Value;

/// Issue's bound: from the page's load event to a number in every tile.
const NUMBERS_WITHIN: Duration = Duration::from_secs(5);
/// The page refreshes every 2 s; three refreshes apart, events have
/// arrived at the demo's 200 a second.
const REFRESHES_APART: usize = 3;
/// A wallboard screen's shape.
const WINDOW: (u32, u32) = (1600, 1200);

/// The page as shown: `innerText` is what is rendered (hidden text reads
/// empty), read in one script so that every part comes from one instant
/// and never from either side of a refresh.
const BOARD_JS: &str = r##"
function board() {
  const shown = (el) => (el ? el.innerText.trim() : "");
  return {
    title: shown(document.getElementById("title")),
    conn: shown(document.getElementById("st-conn")),
    ready: shown(document.getElementById("st-ready")),
    tiles: [...document.querySelectorAll("#tiles .tile")].map((t) => ({
      label: t.querySelector(".label").textContent,
      value: shown(t.querySelector(".value")),
      sub: shown(t.querySelector(".sub, .agents")),
    })),
    rows: [...document.querySelectorAll("#queues tbody tr")].map((tr) => [...tr.cells].map(shown)),
  };
}
"##;

/// Calls back with the board just after the page's next refresh has
/// drawn it (the status line is written last), or with null when no
/// refresh comes within five of its 2 s periods.
const NEXT_REFRESH_JS: &str = r#"
const done = arguments[arguments.length - 1];
const observer = new MutationObserver(() => { observer.disconnect(); done(board()); });
observer.observe(document.getElementById("st-updated"), { childList: true, characterData: true, subtree: true });
setTimeout(() => { observer.disconnect(); done(null); }, 10000);
"#;

#[derive(Debug, Clone, PartialEq)]
struct Tile {
    label: String,
    value: String,
    sub: String,
}

#[derive(Debug, Clone, PartialEq)]
struct Board {
    title: String,
    conn: String,
    ready: String,
    tiles: Vec<Tile>,
    rows: Vec<Vec<String>>,
}

impl Board {
    fn from_json(v: &Value) -> Board {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        Board {
            title: text(&v["title"]),
            conn: text(&v["conn"]),
            ready: text(&v["ready"]),
            tiles: v["tiles"]
                .as_array()
                .unwrap_or_else(|| panic!("no tiles in {v}"))
                .iter()
                .map(|t| Tile {
                    label: text(&t["label"]),
                    value: text(&t["value"]),
                    sub: text(&t["sub"]),
                })
                .collect(),
            rows: v["rows"]
                .as_array()
                .unwrap_or_else(|| panic!("no rows in {v}"))
                .iter()
                .map(|row| row.as_array().into_iter().flatten().map(text).collect())
                .collect(),
        }
    }

    fn tile(&self, label: &str) -> &Tile {
        self.tiles
            .iter()
            .find(|t| t.label == label)
            .unwrap_or_else(|| panic!("no tile {label:?} on {self:#?}"))
    }

    /// Tiles whose value is not a number.
    fn without_number(&self) -> Vec<&Tile> {
        self.tiles
            .iter()
            .filter(|t| shown_number(&t.value).is_none())
            .collect()
    }

    /// What moves only as events arrive (not the ages, which grow with
    /// the clock alone): the backlog, waiting and agent counts, the number
    /// of first replies in the hour, and the per-queue backlog and waiting.
    fn counts(&self) -> Vec<String> {
        let mut counts = vec![
            self.tile("Backlog").value.clone(),
            self.tile("Interactions waiting").value.clone(),
            self.tile("Agents by status").sub.clone(),
        ];
        let replies = &self.tile("First response p90 (1h)").sub;
        counts.push(replies.rsplit(" · ").next().unwrap_or_default().to_owned());
        for row in &self.rows {
            counts.push(format!("{}: {} / {}", row[0], row[1], row[3]));
        }
        counts
    }
}

/// The number a tile or cell shows, or `None` for anything else (the dash
/// of "no value", an empty tile, `NaN%`). What the page writes: counts
/// (`1,234`), percentages (`93.4%`, as a ratio) and durations (`45s`,
/// `3m 05s`, `2h 07m`, `1d 04h`, as seconds).
fn shown_number(text: &str) -> Option<f64> {
    fn digits(s: &str) -> Option<f64> {
        let plain = s.replace(',', "");
        let ok = !plain.is_empty()
            && plain.chars().all(|c| c.is_ascii_digit() || c == '.')
            && plain.starts_with(|c: char| c.is_ascii_digit());
        ok.then(|| plain.parse().ok()).flatten()
    }
    if let Some(percent) = text.strip_suffix('%') {
        return digits(percent).map(|p| p / 100.0);
    }
    if let Some(count) = digits(text) {
        return Some(count);
    }
    let mut seconds = 0.0;
    for part in text.split(' ') {
        let unit = match part.chars().last()? {
            'd' => 86_400.0,
            'h' => 3_600.0,
            'm' => 60.0,
            's' => 1.0,
            _ => return None,
        };
        seconds += digits(&part[..part.len() - 1])? * unit;
    }
    Some(seconds)
}

fn board(browser: &Browser) -> Board {
    Board::from_json(&browser.execute(&format!("{BOARD_JS}\nreturn board();")))
}

fn next_refresh(browser: &Browser) -> Board {
    let shown = browser.execute_async(&format!("{BOARD_JS}\n{NEXT_REFRESH_JS}"));
    assert!(!shown.is_null(), "the page did not refresh within 10 s");
    Board::from_json(&shown)
}

/// Loads `url` and polls the board until every tile shows a number;
/// panics, naming the tiles without one, when that takes past
/// [`NUMBERS_WITHIN`] from the load. Returns the board and how long
/// after the load the last tile got its number.
fn load_until_numbers(browser: &Browser, url: &str) -> (Board, Duration) {
    browser.navigate(url);
    let loaded = Instant::now();
    loop {
        let shown = board(browser);
        if shown.without_number().is_empty() {
            return (shown, loaded.elapsed());
        }
        assert!(
            loaded.elapsed() < NUMBERS_WITHIN,
            "{url}: tiles without a number {NUMBERS_WITHIN:?} after the load: {:#?}",
            shown.without_number()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Fails on any console message of level SEVERE (an uncaught exception,
/// `console.error`, a failed request) logged since the last check.
fn assert_no_console_error(browser: &Browser, when: &str) {
    let errors: Vec<_> = browser
        .console()
        .into_iter()
        .filter(|entry| entry.level == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors {when}: {errors:#?}");
}

/// `support_tickets_open` per queue, from the JSON API the page reads.
fn backlog_by_queue(demo: &Deskpulse) -> BTreeMap<String, f64> {
    let api = demo.get("/api/v1/kpis?names=support_tickets_open");
    assert_eq!(api.status, 200, "{}", api.body);
    let json: Value = serde_json::from_str(&api.body).expect("the API answers JSON");
    let mut by_queue = BTreeMap::new();
    for sample in json["metrics"]["support_tickets_open"]["samples"]
        .as_array()
        .unwrap_or_else(|| panic!("no support_tickets_open samples: {json}"))
    {
        let queue = sample["labels"]["queue"].as_str().expect("a queue label");
        *by_queue.entry(queue.to_owned()).or_default() +=
            sample["value"].as_f64().expect("a value");
    }
    by_queue
}

/// Page and API are read a few milliseconds apart, so a ticket or two may
/// have opened or closed in between.
fn assert_about(shown: f64, api: f64, what: &str) {
    assert!(
        (shown - api).abs() <= tolerance(api),
        "{what}: the page shows {shown}, the API says {api}"
    );
}

fn tolerance(count: f64) -> f64 {
    3.0 + 0.05 * count
}

/// `text` as a URL's query value: what is not a letter, a digit or `-._~`
/// percent-encoded, byte by byte.
fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `CARGO_TARGET_DIR`, else the crate's own target/, then test-artifacts/.
fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("the artifact directory is created");
    dir
}

fn save_screenshot(browser: &Browser, name: &str) {
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    let path = artifacts().join(name);
    std::fs::write(&path, png).expect("the screenshot is written");
    eprintln!("screenshot: {}", path.display());
}

#[test]
fn the_wallboard_in_chromium_shows_live_numbers_for_the_centre_and_one_queue() {
    // A common first-response target for normal tickets.
    let sla = TempFile::new(".toml", first_response_sla("1h").as_bytes());
    let config = sla.0.to_str().expect("a UTF-8 temp path");
    let demo = Deskpulse::demo(&["--config", config]);
    demo.wait_ready();
    let browser = Browser::start(WINDOW.0, WINDOW.1);

    // The centre.
    let (first, took) = load_until_numbers(&browser, &format!("{}/", demo.base));
    eprintln!("every tile showed a number {took:?} after the load");
    assert_no_console_error(&browser, "after the load");
    assert_eq!(first.title, "Support wallboard");
    assert!(!first.rows.is_empty(), "the per-queue table has rows");

    let before = next_refresh(&browser);
    let by_queue = backlog_by_queue(&demo);
    let total: f64 = by_queue.values().sum();
    let processed_before = processed(&demo.metrics());
    assert_eq!(before.conn, "live", "{before:#?}");
    assert_eq!(before.ready, "processor ready", "{before:#?}");
    assert!(before.without_number().is_empty(), "{before:#?}");
    let backlog = shown_number(&before.tile("Backlog").value).expect("a number");
    assert_about(backlog, total, "the centre's backlog");
    for row in &before.rows {
        let shown = shown_number(&row[1]).unwrap_or_else(|| panic!("a backlog in {row:?}"));
        let api = by_queue
            .get(&row[0])
            .unwrap_or_else(|| panic!("a row for a queue the API does not name: {row:?}"));
        assert_about(shown, *api, &format!("the table's backlog of {}", row[0]));
    }

    let mut after = before.clone();
    for _ in 0..REFRESHES_APART {
        after = next_refresh(&browser);
    }
    let arrived = processed(&demo.metrics()) - processed_before;
    assert!(arrived > 0.0, "events arrived between the two reads");
    let (was, now) = (before.counts(), after.counts());
    let changed: Vec<_> = was
        .iter()
        .zip(&now)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("{a} -> {b}"))
        .collect();
    assert!(
        !changed.is_empty(),
        "{arrived} events arrived but no count on the page changed: {was:?}"
    );
    eprintln!(
        "{arrived} events over {REFRESHES_APART} refreshes changed {} of {} counts: {changed:?}",
        changed.len(),
        was.len()
    );
    assert!(after.without_number().is_empty(), "{after:#?}");
    assert_no_console_error(&browser, "after a few refreshes");
    save_screenshot(&browser, "wallboard.png");

    // One queue, named as the API names it: the one with the largest
    // backlog, which must stand apart from the centre's for the check to
    // tell the two apart.
    let by_queue = backlog_by_queue(&demo);
    let (queue, queue_backlog) = by_queue
        .iter()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(q, v)| (q.clone(), *v))
        .expect("the API names some queue");
    let total: f64 = by_queue.values().sum();
    assert!(
        total - queue_backlog > 2.0 * tolerance(total),
        "no queue stands apart from the centre: {by_queue:?}"
    );
    let (_, took) = load_until_numbers(
        &browser,
        &format!("{}/?queue={}", demo.base, url_encoded(&queue)),
    );
    eprintln!("?queue={queue}: every tile showed a number {took:?} after the load");
    let one = next_refresh(&browser);
    let by_queue = backlog_by_queue(&demo);
    assert_eq!(one.title, format!("Queue: {queue}"));
    assert!(one.without_number().is_empty(), "{one:#?}");
    let table = browser.find_all("#queues");
    assert_eq!(table.len(), 1, "one per-queue table");
    assert!(
        !browser.displayed(&table[0]),
        "the per-queue table is hidden on one queue's board"
    );
    let shown = shown_number(&one.tile("Backlog").value).expect("a number");
    assert_about(shown, by_queue[&queue], &format!("queue {queue}'s backlog"));
    assert_no_console_error(&browser, &format!("on ?queue={queue}"));
    save_screenshot(&browser, "wallboard-queue.png");
}

#[test]
fn shown_numbers_are_what_the_page_writes_and_queue_names_are_encoded() {
    for (text, value) in [
        ("0", 0.0),
        ("1,234", 1234.0),
        ("93.4%", 0.934),
        ("100.0%", 1.0),
        ("45s", 45.0),
        ("3m 05s", 185.0),
        ("2h 07m", 7620.0),
        ("1d 04h", 100_800.0),
    ] {
        assert_eq!(shown_number(text), Some(value), "{text:?}");
    }
    for text in [
        "\u{2014}", "", "NaN%", "-", "%", "m", "3m x", "Infinity", "1e3",
    ] {
        assert_eq!(shown_number(text), None, "{text:?}");
    }
    assert_eq!(url_encoded("tier 2/ß"), "tier%202%2F%C3%9F");
}
