//! `get-token api`: the request made for the caller, the way `gh api` and curl work, with the token added by
//! the library (`Broker::send`), so it is never printed, put in a command line or handed to anyone.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Method, Request, Response};
use serde_json::{Value, json};
use tokenbroker::{Error, PATH_ONLY_HOST, printable};
use zeroize::Zeroizing;

use crate::args::Global;
use crate::{exit, output, report};
use tokenbroker::conceal::{Concealer, Masker};

/// What to send, as given on the command line.
pub(crate) struct Call<'a> {
    pub(crate) url: &'a str,
    pub(crate) service: Option<&'a str>,
    pub(crate) identifier: Option<&'a str>,
    pub(crate) method: Option<&'a str>,
    pub(crate) headers: &'a [String],
    pub(crate) data: Option<&'a str>,
    pub(crate) input: Option<&'a Path>,
    pub(crate) include: bool,
    pub(crate) via_scalekit: bool,
}

pub(crate) async fn run(global: &Global, call: &Call<'_>) -> u8 {
    let broker = match crate::broker(global) {
        Ok(b) => b,
        Err(e) => return report::fail(global, None, &e),
    };
    let service = match (call.service, call.url.starts_with('/')) {
        (Some(s), _) => s.to_owned(),
        (None, true) => {
            return report::usage(global, "a path alone needs --service (and --via-scalekit)");
        }
        (None, false) => match broker.connections().service_for_url(call.url) {
            Ok(s) => s.to_owned(),
            Err(e) => return report::fail(global, Some(call.url), &e.into()),
        },
    };
    let request = match build(call) {
        Ok(r) => r,
        Err(message) => return report::usage(global, &message),
    };
    let outcome = if call.via_scalekit {
        broker
            .send_via_scalekit(&service, call.identifier, request)
            .await
    } else {
        broker.send(&service, call.identifier, request).await
    };
    let answer = match outcome {
        Ok(a) => a,
        Err(e) => return report::fail(global, Some(&service), &e),
    };
    // What might echo the token back (a debugging endpoint, an error page): the token this answer was sent
    // with, hidden in whatever is printed. Through the proxy no token left Scalekit.
    let token = sent(&answer);
    deliver(global, call, answer, token.as_ref().map(|t| t.as_str())).await
}

/// The token an answer was sent with, as [`tokenbroker::sent_token`] keeps it with the answer (never looked
/// up again: a second look-up could find a refreshed token, or fail, and leave the sent one unhidden).
pub(crate) fn sent(answer: &reqwest::Response) -> Option<Zeroizing<String>> {
    tokenbroker::sent_token(answer).map(|t| Zeroizing::new(t.expose_secret().to_owned()))
}

pub(crate) fn build(call: &Call<'_>) -> Result<Request, String> {
    let url = if call.url.starts_with('/') {
        format!("https://{PATH_ONLY_HOST}{}", call.url)
    } else {
        call.url.to_owned()
    };
    let url =
        url::Url::parse(&url).map_err(|e| format!("{} is not a URL ({e})", printable(call.url)))?;
    let body = match (call.data, call.input) {
        (Some(data), _) => Some(data.as_bytes().to_vec()),
        (None, Some(path)) => Some(read_input(path)?),
        (None, None) => None,
    };
    let method = match call.method {
        Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("{} is not an HTTP method", printable(m)))?,
        None if body.is_some() => Method::POST,
        None => Method::GET,
    };
    // TRACE answers with the request itself, token included; CONNECT opens a tunnel, not an API call.
    if method == Method::TRACE || method == Method::CONNECT {
        return Err(format!(
            "-X {method}: not sent; it would echo the request, token included, or open a tunnel"
        ));
    }
    let mut request = Request::new(method, url);
    for header in call.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| format!("-H {}: write it as 'Name: value'", printable(header)))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("-H {}: not a header name", printable(header)))?;
        // The token's header, and the ones that choose where it goes or whose it is: get-token's to set.
        // A Host other than the URL's could reach another tenant behind a shared front end, token and all.
        if [
            reqwest::header::AUTHORIZATION,
            reqwest::header::HOST,
            HeaderName::from_static("connection_name"),
            HeaderName::from_static("identifier"),
        ]
        .contains(&name)
        {
            return Err(format!("-H {name}: get-token sets that header itself"));
        }
        let value = HeaderValue::from_str(value.trim()).map_err(|_| {
            format!(
                "-H {}: the value has characters a header cannot have",
                printable(header)
            )
        })?;
        request.headers_mut().append(name, value);
    }
    if let Some(body) = body {
        if !request
            .headers()
            .contains_key(reqwest::header::CONTENT_TYPE)
        {
            let kind = if serde_json::from_slice::<Value>(&body).is_ok() {
                "application/json"
            } else {
                "application/x-www-form-urlencoded"
            };
            request.headers_mut().insert(
                reqwest::header::CONTENT_TYPE,
                HeaderValue::from_static(kind),
            );
        }
        *request.body_mut() = Some(body.into());
    }
    Ok(request)
}

fn read_input(path: &Path) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let read = if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut body)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut body))
    };
    read.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(body)
}

/// The answer: with `--json` one object; otherwise (the status line and headers with `-i`, then) the body
/// as it arrives, raw when stdout is a file or a pipe, neutralised on a terminal.
async fn deliver(global: &Global, call: &Call<'_>, answer: Response, token: Option<&str>) -> u8 {
    let status = answer.status();
    let code = if status.is_success() {
        exit::OK
    } else {
        exit::HTTP_ERROR
    };
    if !status.is_success() {
        global.tell(&format!(
            "get-token: api: HTTP {status} from {}",
            answer.url()
        ));
    }
    if global.json {
        let value = match answer_json(answer, token, usize::MAX).await {
            Ok(value) => value,
            Err(e) => return report::fail(global, None, &e),
        };
        return if output::print_json(value) {
            code
        } else {
            exit::UNEXPECTED
        };
    }
    let terminal = std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    if call.include {
        // Lines end in \n, not HTTP's \r\n: the head is for reading, and a bare \r is a control character.
        let mut head = format!("{:?} {status}\n", answer.version());
        for (k, v) in answer.headers() {
            head.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
        }
        head.push('\n');
        let head = Concealer::new(token).conceal(&head);
        if out.write_all(printable(&head).as_bytes()).is_err() {
            return exit::UNEXPECTED;
        }
    }
    if let Some(withheld) = withheld(&answer) {
        global.warn(&withheld);
        return code;
    }
    // The body streams through the same masker `exec` uses, so a token split across chunks is caught too,
    // in each of its exact encoded forms (a run of it, or a mix of escapes, only in --json).
    let forms = Concealer::new(token).forms();
    let mut masker = Masker::new(forms.iter().map(|f| f.as_slice()));
    let mut answer = answer;
    let mut shown = Vec::new();
    loop {
        let chunk = match answer.chunk().await {
            Ok(chunk) => chunk,
            Err(e) => return report::fail(global, None, &read_failed(e)),
        };
        shown.clear();
        match &chunk {
            Some(c) => masker.feed(c, &mut shown),
            None => masker.finish(&mut shown),
        }
        let written = if terminal {
            out.write_all(printable(&String::from_utf8_lossy(&shown)).as_bytes())
        } else {
            out.write_all(&shown)
        };
        if written.and_then(|()| out.flush()).is_err() {
            return exit::UNEXPECTED;
        }
        if chunk.is_none() {
            return code;
        }
    }
}

/// Why the body is not shown, when it is compressed: get-token asks for no compression, so a compressed
/// body was asked for (`Accept-Encoding`) or is hostile, and masking cannot see into it.
fn withheld(answer: &Response) -> Option<String> {
    let headers = answer.headers();
    // A transfer coding other than chunked (`TE: gzip` honoured) leaves hyper's body compressed too.
    let transfer = headers
        .get_all(reqwest::header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .find(|c| !c.is_empty() && c != "chunked" && c != "identity");
    let encoding = match (headers.get(reqwest::header::CONTENT_ENCODING), transfer) {
        (_, Some(coding)) => coding,
        (Some(e), None) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        (None, None) => return None,
    };
    (!encoding.trim().eq_ignore_ascii_case("identity")).then(|| {
        format!(
            "the body is not shown: it is compressed ({}), so get-token cannot check it for \
             the token; do not ask for compression (drop Accept-Encoding)",
            printable(&encoding)
        )
    })
}

/// The answer as one JSON object (`status`, `headers`, `body`: parsed when it is JSON). The token is
/// concealed before the body is cut at `cap` bytes (`truncated` then says so), in the raw text and in keys
/// and values once decoded, headers included: see [`Concealer`]. A compressed body is withheld.
pub(crate) async fn answer_json(
    mut answer: Response,
    token: Option<&str>,
    cap: usize,
) -> Result<Value, Error> {
    let concealer = Concealer::new(token);
    let status = answer.status();
    let headers: serde_json::Map<String, Value> = answer
        .headers()
        .iter()
        .map(|(k, v)| {
            let value = concealer.conceal(&String::from_utf8_lossy(v.as_bytes()));
            (concealer.conceal(k.as_str()), Value::String(value))
        })
        .collect();
    if let Some(withheld) = withheld(&answer) {
        return Ok(
            json!({"status": status.as_u16(), "headers": headers, "body": null,
                         "withheld": withheld}),
        );
    }
    // Read past the cut, so that a token straddling it is seen whole and concealed before the cut.
    let limit = cap.saturating_add(concealer.reach());
    let mut bytes = Vec::new();
    while let Some(chunk) = answer.chunk().await.map_err(read_failed)? {
        let room = limit.saturating_sub(bytes.len());
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if chunk.len() > room {
            break;
        }
    }
    let (text, truncated) = concealer.conceal_cut(&String::from_utf8_lossy(&bytes), cap);
    let mut body = match truncated {
        false => serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
        true => Value::String(text),
    };
    // Once decoded, a key or value can show an encoding the raw text hid (a `\u0025` before hex digits).
    conceal_value(&mut body, &concealer);
    let mut value = json!({"status": status.as_u16(), "headers": headers, "body": body});
    if truncated {
        value["truncated"] = Value::Bool(true);
    }
    Ok(value)
}

fn conceal_value(value: &mut Value, concealer: &Concealer) {
    match value {
        Value::String(s) => *s = concealer.conceal(s),
        Value::Array(items) => items.iter_mut().for_each(|v| conceal_value(v, concealer)),
        Value::Object(map) => {
            *map = std::mem::take(map)
                .into_iter()
                .map(|(k, mut v)| {
                    conceal_value(&mut v, concealer);
                    (concealer.conceal(&k), v)
                })
                .collect();
        }
        _ => {}
    }
}

fn read_failed(e: reqwest::Error) -> Error {
    Error::Request {
        url: e.url().map(|u| u.to_string()).unwrap_or_default(),
        detail: format!("reading the answer failed: {e}"),
    }
}
