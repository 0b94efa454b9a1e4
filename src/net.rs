//! What went wrong on the network, told apart: a name that does not resolve, nothing listening, a TLS
//! failure (and which), a timeout, a proxy. reqwest says only "connect" or "timeout"; the rest is in the
//! chain of causes underneath, which is read here in one place for Scalekit and provider calls alike.

/// One sentence for a transport error (never a URL's secrets: reqwest's URLs here carry none).
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(s) = source {
        chain.push(s.to_string());
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return "connection refused: nothing is listening at that address and port"
                        .into();
                }
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                    return "the connection was reset by the other side".into();
                }
                _ => {}
            }
        }
        source = s.source();
    }
    let all = chain.join(": ").to_ascii_lowercase();
    if e.is_timeout() || all.contains("timed out") {
        return "timed out".into();
    }
    if all.contains("dns error")
        || all.contains("failed to lookup address")
        || all.contains("name or service not known")
    {
        return "the host name could not be resolved (DNS): check the URL's spelling and the network".into();
    }
    if all.contains("proxy") {
        return format!(
            "the proxy failed ({}): check HTTPS_PROXY / HTTP_PROXY / NO_PROXY",
            crate::text::tidy(chain.last().map_or("", String::as_str))
        );
    }
    if let Some(tls) = chain.iter().find(|c| {
        let c = c.to_ascii_lowercase();
        // rustls's messages, as it words them: certificates, alerts, and records that are not TLS at all.
        [
            "certificate",
            "tls",
            "handshake",
            "peer",
            "alert",
            "corrupt message",
        ]
        .iter()
        .any(|w| c.contains(w))
    }) {
        return format!("the TLS handshake failed: {}", crate::text::tidy(tls));
    }
    if e.is_connect() {
        return format!(
            "could not connect: {}",
            crate::text::tidy(chain.last().map_or("", String::as_str))
        );
    }
    crate::text::tidy(&chain.join(": "))
}

/// What to do about [`crate::Error::Unavailable`], by cause: a typo is not fixed by retrying.
pub(crate) fn hint(error: &crate::Error) -> String {
    let detail = match error {
        crate::Error::Unavailable { detail, .. } => detail.to_ascii_lowercase(),
        _ => String::new(),
    };
    let advice = if detail.contains("(dns)") {
        "check the host name in SCALEKIT_ENV_URL (as the dashboard shows it) and the network"
    } else if detail.contains("connection refused") {
        "check the host and port in SCALEKIT_ENV_URL (for the local emulator: is it still running?)"
    } else if detail.contains("tls handshake") {
        "check that SCALEKIT_ENV_URL is https:// on a server that speaks TLS (http:// only for a local \
         emulator), and any TLS-intercepting proxy"
    } else if detail.contains("proxy") {
        "check HTTPS_PROXY, HTTP_PROXY and NO_PROXY"
    } else if detail.contains("timed out") {
        "check the network; a slow network needs a longer timeout"
    } else {
        "Scalekit or the network is failing for now: retry in a minute, and check SCALEKIT_ENV_URL if it \
         persists"
    };
    advice.into()
}
