//! Keeping secrets out of core dumps: get-token's memory holds the client secret and tokens, and a core file
//! lands wherever the system says (often the working directory), readable long after the process is gone.

#[cfg(unix)]
static ORIGINAL_CORE_LIMIT: std::sync::OnceLock<libc::rlimit> = std::sync::OnceLock::new();

/// Sets this process's core size limit to 0 and, on Linux, marks it not dumpable (which also keeps other
/// processes of the same user from reading its memory through /proc or ptrace).
pub(crate) fn no_core_dumps() {
    #[cfg(unix)]
    // SAFETY: getrlimit and setrlimit only read and write the rlimit structs passed by reference.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 {
            let _ = ORIGINAL_CORE_LIMIT.set(limit);
        }
        // Only the soft limit: `exec` gives the command it runs the limit it would have had.
        limit.rlim_cur = 0;
        libc::setrlimit(libc::RLIMIT_CORE, &limit);
    }
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_DUMPABLE takes plain integers and changes only this process's flag.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Gives back the core limit get-token started with, just before `exec` replaces it with the user's command
/// (execve resets the dumpable flag by itself).
pub(crate) fn restore_for_exec() {
    #[cfg(unix)]
    if let Some(limit) = ORIGINAL_CORE_LIMIT.get() {
        // SAFETY: as above.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, limit);
        }
    }
}

/// The terminal's echo, off while a secret is typed and back on when this is dropped (however the read
/// ended). Does nothing when stdin is not a terminal.
pub(crate) struct EchoOff {
    #[cfg(unix)]
    saved: Option<libc::termios>,
}

impl EchoOff {
    pub(crate) fn new() -> Self {
        #[cfg(unix)]
        // SAFETY: tcgetattr and tcsetattr read and write the termios struct passed by reference, for fd 0.
        unsafe {
            let mut term: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut term) != 0 {
                return Self { saved: None };
            }
            let saved = term;
            // No echo of the characters, but the newline still ends the line as typed.
            term.c_lflag &= !libc::ECHO;
            term.c_lflag |= libc::ECHONL;
            if libc::tcsetattr(0, libc::TCSAFLUSH, &term) != 0 {
                return Self { saved: None };
            }
            Self { saved: Some(saved) }
        }
        #[cfg(not(unix))]
        Self {}
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(saved) = &self.saved {
            // SAFETY: as in `new`, with the settings read there.
            unsafe {
                libc::tcsetattr(0, libc::TCSAFLUSH, saved);
            }
        }
    }
}
