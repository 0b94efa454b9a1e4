//! Test support for the examples: a token from the emulator, and a stand-in for a provider's API on
//! 127.0.0.1 that records each request and answers with canned JSON (one request per connection).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// The emulator, and a token for `service` (connection `connection`) that the user has approved.
pub async fn approved_token(
    service: &str,
    connection: &str,
) -> (tokenbroker_emulator::Emulator, tokenbroker::AccessToken) {
    use tokenbroker::{Broker, Connection, Connections};
    let emulator = tokenbroker_emulator::Emulator::builder()
        .connection(connection)
        .start()
        .await
        .unwrap();
    emulator.set_status(connection, "me", "PENDING_AUTH");
    emulator.approve(connection, "me");
    let broker = Broker::builder()
        .credentials(emulator.credentials())
        .connections(
            Connections::new()
                .with(service, Connection::new(connection))
                .unwrap(),
        )
        .identifier("me")
        .build()
        .unwrap();
    let token = broker.get_token(service).await.unwrap();
    (emulator, token)
}

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct StandIn {
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl StandIn {
    /// Answers the n-th request with `answers[n]` (the last one from then on).
    pub fn serve(answers: Vec<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let Some(request) = read(&mut BufReader::new(&stream)) else {
                    continue;
                };
                log.lock().unwrap().push(request);
                let body = &answers[n.min(answers.len() - 1)];
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self { url, requests }
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn read(reader: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}
