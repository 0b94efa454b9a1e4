//! Who holds a loopback port: when the listener's port is taken, the redirect goes to whoever holds it. A
//! program of another local user there would receive the `auth_request_id` and state, and could show the
//! browser any page on the 127.0.0.1 origin; one of this user's (another get-token wait) is no danger.

/// The holder of a listening TCP port on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// This user (the effective uid).
    Me,
    /// Another user, by uid.
    Other(u32),
    /// Not known (not Linux, or nothing listens there).
    Unknown,
}

/// Whether the redirect to `port` could reach someone other than this user: `Some(uid)` for another user's
/// listener, `Some(None)` on Linux for a port that is bound (this process cannot bind it) while nothing of
/// this user listens there: a socket bound without listening shows in no table, and could start listening
/// once the link is out (third review, A-3). `None`: free, or this user's own wait. Elsewhere the tables are
/// not read, and a taken port is taken as this user's.
pub fn suspect(port: u16) -> Option<Option<u32>> {
    match holder(port) {
        Holder::Me => None,
        Holder::Other(uid) => Some(Some(uid)),
        // A socket is bound a moment before it listens (another wait starting, or this very probe in
        // another get-token): only a port that stays bound without a listener, over a few looks, is suspect.
        Holder::Unknown if cfg!(target_os = "linux") => {
            for _ in 0..5 {
                if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
                    return None;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
                match holder(port) {
                    Holder::Me => return None,
                    Holder::Other(uid) => return Some(Some(uid)),
                    Holder::Unknown => {}
                }
            }
            Some(None)
        }
        Holder::Unknown => None,
    }
}

/// Who listens on `port` (any local address, IPv4 or IPv6), from the kernel's socket tables.
pub fn holder(port: u16) -> Holder {
    #[cfg(target_os = "linux")]
    {
        let tables = ["/proc/net/tcp", "/proc/net/tcp6"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect::<Vec<_>>();
        // SAFETY: geteuid has no arguments and cannot fail.
        let me = unsafe { libc::geteuid() };
        listeners(&tables.concat(), port).map_or(Holder::Unknown, |uid| {
            if uid == me {
                Holder::Me
            } else {
                Holder::Other(uid)
            }
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = port;
        Holder::Unknown
    }
}

/// The uid of a socket listening on `port` in `/proc/net/tcp`-format text (another user's first, if any).
fn listeners(table: &str, port: u16) -> Option<u32> {
    let port = format!("{port:04X}");
    let mut uids = table.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, state, uid) = (fields.get(1)?, fields.get(3)?, fields.get(7)?);
        // State 0A is LISTEN.
        (*state == "0A" && local.rsplit(':').next() == Some(port.as_str()))
            .then(|| uid.parse::<u32>().ok())
            .flatten()
    });
    let first = uids.next()?;
    #[cfg(unix)]
    // SAFETY: as above.
    let me = unsafe { libc::geteuid() };
    #[cfg(not(unix))]
    let me = first;
    Some(
        std::iter::once(first)
            .chain(uids)
            .find(|u| *u != me)
            .unwrap_or(first),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:CF0D 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 123 1
   1: 0100007F:1F90 00000000:0000 01 00000000:00000000 00:00000000 00000000  1000        0 124 1
";

    #[test]
    fn the_listening_socket_and_its_owner_are_read_from_the_table() {
        assert_eq!(listeners(TABLE, 53005), Some(65534), "0xCF0D, listening");
        assert_eq!(listeners(TABLE, 8080), None, "0x1F90 is not listening");
        assert_eq!(listeners(TABLE, 1), None);
        assert_eq!(listeners("garbage\n\n", 53005), None);
    }

    #[test]
    fn a_port_this_process_listens_on_is_held_by_this_user() {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        #[cfg(target_os = "linux")]
        assert_eq!(holder(port), Holder::Me);
        #[cfg(not(target_os = "linux"))]
        assert_eq!(holder(port), Holder::Unknown);
    }
}
