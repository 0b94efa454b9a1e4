//! tokenbroker logs nothing itself; its HTTP stack does (reqwest through `log`, hyper-util through
//! `tracing`). With both turned up to the most verbose level, no token, API token, client secret or
//! authorization header may appear in what they record.

mod common;

use std::fmt::Write as _;
use std::sync::Mutex;

use common::{IDENTIFIER, activate, emulator};
use tokenbroker_emulator::{Fault, Route};

static RECORDS: Mutex<String> = Mutex::new(String::new());

fn record(line: String) {
    RECORDS.lock().unwrap().push_str(&line);
}

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        record(format!("log {} {}: {}\n", r.level(), r.target(), r.args()));
    }
    fn flush(&self) {}
}

struct Subscriber;

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl tracing::Subscriber for Subscriber {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut fields = Fields(String::new());
        span.record(&mut fields);
        record(format!("span {}{}\n", span.metadata().name(), fields.0));
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut fields = Fields(String::new());
        values.record(&mut fields);
        record(format!("record{}\n", fields.0));
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        record(format!("event {}{}\n", event.metadata().target(), fields.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn the_most_verbose_logs_hold_no_secret() {
    log::set_logger(&Logger).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    tracing::subscriber::set_global_default(Subscriber).unwrap();

    let secret = "cs_logcheck_93be10";
    let emu = emulator().client("id", secret).start().await.unwrap();
    activate(&emu, "gmail_u3134a", IDENTIFIER);
    let broker = common::uncached(&emu);
    let token = broker.get_token("gmail").await.unwrap();
    let revoked = emu.api_tokens();
    emu.revoke_api_tokens();
    broker.get_token("gmail").await.unwrap();
    emu.inject(Fault::status(Route::Auth, 503).times(2));
    broker.get_token("gmail").await.unwrap();
    emu.set_status("gmail_u3134a", IDENTIFIER, "EXPIRED");
    assert!(broker.get_token("gmail").await.is_err());

    let records = RECORDS.lock().unwrap().clone();
    eprintln!("{} lines recorded", records.lines().count());
    assert!(
        !records.is_empty(),
        "the HTTP stack recorded something to check"
    );
    let mut forbidden = vec![
        secret.to_owned(),
        token.expose_secret().to_owned(),
        "Bearer ".to_owned(),
    ];
    forbidden.extend(emu.api_tokens());
    forbidden.extend(revoked);
    for f in &forbidden {
        assert!(
            !records.contains(f.as_str()),
            "{f:?} was logged:\n{records}"
        );
    }
}
