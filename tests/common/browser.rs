//! A browser and a user on a Custom-verification emulator, for the tests of user verification through the
//! real get-token: the redirect after approving, and one GET of it as a browser would send it.

use std::io::{Read, Write};
use std::net::TcpStream;

use tokenbroker_emulator::{Approval, Emulator, UserVerification};

use super::{Cli, emulator};

pub fn custom() -> Emulator {
    emulator()
        .user_verification(UserVerification::Custom)
        .spawn()
        .unwrap()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CLI on `emu` whose listener port is a free one (tests run in parallel).
pub fn cli(emu: &Emulator) -> (Cli, u16) {
    let port = free_port();
    (
        Cli::on(emu).var("TOKENBROKER_VERIFY_PORT", &port.to_string()),
        port,
    )
}

/// What a browser does with the redirect: one GET, the status line and the page.
pub fn browse(url: &str) -> (String, String) {
    let url = url::Url::parse(url).unwrap();
    let mut stream = TcpStream::connect((url.host_str().unwrap(), url.port().unwrap())).unwrap();
    let target = &url[url::Position::BeforePath..];
    let host = &url[url::Position::BeforeHost..url::Position::AfterPort];
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

pub fn link_in(text: &str) -> String {
    let start = text.find("http://").expect("a link");
    text[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches(['"', ','])
        .to_owned()
}

pub fn redirect(approval: Approval) -> String {
    match approval {
        Approval::Redirect(url) => url,
        other => panic!("expected a redirect, got {other:?}"),
    }
}

pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}
