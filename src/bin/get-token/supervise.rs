//! `exec` with masking (Unix): get-token stays the command's parent, copies its piped output through a
//! [`Masker`] per stream, passes signals on, and ends the way the command ended.

use std::io::{PipeReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

use tokenbroker::conceal::Masker;

/// The signals a user or a supervisor sends to stop or reload a command; get-token passes them on.
const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// The command's pid for the signal handler (0: none yet, or already reaped).
static CHILD: AtomicI32 = AtomicI32::new(0);

/// Which of get-token's output streams go through the mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) stdout: bool,
    pub(crate) stderr: bool,
}

impl Plan {
    /// Masks every stream that is not a terminal: a terminal stays the command's own, so interactive
    /// programs (line editing, colours, isatty checks, window size) work as without get-token.
    pub(crate) fn for_this_process() -> Self {
        // SAFETY: isatty only inspects the descriptor.
        let tty = |fd| unsafe { libc::isatty(fd) == 1 };
        Self {
            stdout: !tty(libc::STDOUT_FILENO),
            stderr: !tty(libc::STDERR_FILENO),
        }
    }
}

/// Where a pump writes.
#[derive(Clone, Copy)]
enum Target {
    Stdout,
    Stderr,
}

/// Runs `command` with the streams in `plan` piped through a masker for `secrets`, and returns its exit
/// code, or ends get-token with the signal that ended it. An error only if it could not be started.
pub(crate) fn run(mut command: Command, plan: Plan, secrets: &[&[u8]]) -> std::io::Result<u8> {
    let mut pumps = Vec::new();
    if plan.stdout && plan.stderr && same_file(libc::STDOUT_FILENO, libc::STDERR_FILENO) {
        // `2>&1`: one pipe for both keeps the order in which the command wrote them.
        let (reader, writer) = std::io::pipe()?;
        command.stdout(writer.try_clone()?).stderr(writer);
        pumps.push((reader, Target::Stdout));
    } else {
        if plan.stdout {
            let (reader, writer) = std::io::pipe()?;
            command.stdout(writer);
            pumps.push((reader, Target::Stdout));
        }
        if plan.stderr {
            let (reader, writer) = std::io::pipe()?;
            command.stderr(writer);
            pumps.push((reader, Target::Stderr));
        }
    }
    // Blocked from before the command starts until the handlers are in place, so none is lost or kills
    // get-token alone; the pumps inherit the mask and keep them blocked, leaving them to this thread.
    let previous = block(&FORWARDED, libc::SIG_BLOCK);
    // SAFETY: the closure only calls setrlimit and pthread_sigmask (async-signal-safe) with values read
    // without allocating.
    unsafe {
        command.pre_exec(move || {
            // The command starts with the core limit and the signal mask get-token was given (std leaves the
            // mask as it is in the parent).
            crate::harden::restore_for_exec();
            restore_mask(&previous);
            Ok(())
        });
    }
    let spawned = command.spawn();
    // The pipes' write ends must close here, or the pumps would never see the end of the output.
    drop(command);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            restore_mask(&previous);
            return Err(e);
        }
    };
    CHILD.store(child.id() as i32, Ordering::SeqCst);
    let installed = install_forwarding();
    let threads: Vec<_> = pumps
        .into_iter()
        .map(|(reader, target)| {
            let masker = Masker::new(secrets.iter().copied());
            std::thread::spawn(move || pump(reader, target, masker))
        })
        .collect();
    restore_mask(&previous);

    let status = child.wait();
    CHILD.store(0, Ordering::SeqCst);
    // The command is gone but what it wrote may still be in the pipes (or held by its background children:
    // as with `| cat`, get-token ends when its output is closed).
    for t in threads {
        let _ = t.join();
    }
    for (signal, old) in installed {
        // SAFETY: puts back the disposition read when installing.
        unsafe { libc::sigaction(signal, &old, std::ptr::null_mut()) };
    }
    let status = status?;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(signal)) => end_with(signal),
        (None, None) => crate::exit::UNEXPECTED,
    })
}

/// Copies the command's output to get-token's through the masker, until the command closes it or get-token's
/// own output is gone (then the pipe is closed, so the command gets SIGPIPE as it would have).
fn pump(mut reader: PipeReader, target: Target, mut masker: Masker) {
    let mut buf = zeroize::Zeroizing::new(vec![0u8; 64 * 1024]);
    let mut shown = Vec::with_capacity(buf.len() + tokenbroker::conceal::MASK.len());
    loop {
        shown.clear();
        match reader.read(&mut buf) {
            Ok(0) => {
                masker.finish(&mut shown);
                let _ = write(target, &shown);
                return;
            }
            Ok(n) => masker.feed(&buf[..n], &mut shown),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
        if write(target, &shown).is_err() {
            return;
        }
    }
}

fn write(target: Target, bytes: &[u8]) -> std::io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    match target {
        // Flushed at once: the command's partial lines (prompts, progress) are not left in a line buffer.
        Target::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes).and_then(|()| out.flush())
        }
        Target::Stderr => std::io::stderr().lock().write_all(bytes),
    }
}

/// Whether two descriptors are the same file (`2>&1`, or both /dev/null).
fn same_file(a: libc::c_int, b: libc::c_int) -> bool {
    let stat = |fd| {
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: fstat fills the struct it is given; it is read only if fstat succeeded.
        (unsafe { libc::fstat(fd, st.as_mut_ptr()) } == 0).then(|| {
            let st = unsafe { st.assume_init() };
            (st.st_dev, st.st_ino)
        })
    };
    matches!((stat(a), stat(b)), (Some(x), Some(y)) if x == y)
}

fn block(signals: &[libc::c_int], how: libc::c_int) -> libc::sigset_t {
    // SAFETY: the sets are initialised by sigemptyset before use; pthread_sigmask only reads and writes them.
    unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        let mut previous = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(how, &set, &mut previous);
        previous
    }
}

fn restore_mask(previous: &libc::sigset_t) {
    // SAFETY: a mask returned by pthread_sigmask.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, previous, std::ptr::null_mut()) };
}

/// Installs the forwarding handler for each signal not ignored (`nohup` stays in force: the command
/// inherited the ignored disposition already). Returns the dispositions it replaced.
fn install_forwarding() -> Vec<(libc::c_int, libc::sigaction)> {
    let mut installed = Vec::new();
    for signal in FORWARDED {
        // SAFETY: sigaction reads and writes the structs given; the handler is async-signal-safe.
        unsafe {
            let mut old = std::mem::zeroed::<libc::sigaction>();
            if libc::sigaction(signal, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction == libc::SIG_IGN
            {
                continue;
            }
            let mut action = std::mem::zeroed::<libc::sigaction>();
            action.sa_sigaction = forward as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(signal, &action, std::ptr::null_mut()) == 0 {
                installed.push((signal, old));
            }
        }
    }
    installed
}

/// Passes a signal on to the command. Not when the terminal sent it (Ctrl-C, Ctrl-\, hangup): the kernel
/// gave it to the whole foreground process group, the command included, and a second SIGINT is "force quit"
/// to many programs. Only Linux says who sent a signal; elsewhere every one is passed on.
extern "C" fn forward(signal: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let pid = CHILD.load(Ordering::SeqCst);
    if pid <= 0 {
        return;
    }
    // SAFETY: only async-signal-safe calls; errno is put back for the code this interrupted.
    unsafe {
        let errno = errno();
        #[cfg(target_os = "linux")]
        let from_terminal = !info.is_null()
            && (*info).si_code == libc::SI_KERNEL
            && libc::getpgid(pid) == libc::getpgrp();
        #[cfg(not(target_os = "linux"))]
        let from_terminal = {
            let _ = info;
            false
        };
        if !from_terminal {
            libc::kill(pid, signal);
        }
        set_errno(errno);
    }
}

#[cfg(target_os = "linux")]
unsafe fn errno_location() -> *mut libc::c_int {
    unsafe { libc::__errno_location() }
}
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
unsafe fn errno_location() -> *mut libc::c_int {
    unsafe { libc::__error() }
}

fn errno() -> libc::c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

#[allow(unused_variables)]
fn set_errno(value: libc::c_int) {
    #[cfg(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd"
    ))]
    // SAFETY: the calling thread's errno.
    unsafe {
        *errno_location() = value;
    }
}

/// Ends get-token with the signal that ended the command, so a shell sees "killed by SIGTERM" (and stops a
/// loop on SIGINT) exactly as without get-token. Core dumps stay off for get-token itself. Returns the
/// shell's 128+N only if the signal's default action does not end a process.
fn end_with(signal: libc::c_int) -> u8 {
    let _ = std::io::stdout().lock().flush();
    // SAFETY: resets one disposition, unblocks one signal and raises it on this thread.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        block(&[signal], libc::SIG_UNBLOCK);
        libc::raise(signal);
    }
    128u8.wrapping_add(signal as u8)
}
