//! The inspector page at `/_emulator/`: one HTML page, its stylesheet and its script,
//! compiled into the binary (nothing is fetched from elsewhere). The script reads the
//! admin API's `GET /_emulator/v1/stream` (server-sent events) and renders keysets,
//! channels, occupants with their state and time left, the live event feed and the
//! request counters. With an admin token, open `/_emulator/#token=TOKEN` (the fragment
//! never reaches the server) or type it into the page.

const PAGE: &str = include_str!("index.html");
const STYLE: &str = include_str!("inspector.css");
const SCRIPT: &str = include_str!("inspector.js");

/// The asset at `path` (content type, bytes), if it is one.
pub(crate) fn asset(path: &str) -> Option<(&'static str, &'static [u8])> {
    match path {
        "/_emulator" | "/_emulator/" | "/_emulator/index.html" => {
            Some(("text/html; charset=utf-8", PAGE.as_bytes()))
        }
        "/_emulator/inspector.css" => Some(("text/css; charset=utf-8", STYLE.as_bytes())),
        "/_emulator/inspector.js" => Some(("text/javascript; charset=utf-8", SCRIPT.as_bytes())),
        _ => None,
    }
}
