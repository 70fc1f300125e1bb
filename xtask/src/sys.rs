//! The few libc calls xtask needs: sessions for detached services, signals,
//! process liveness. Linux only, like the rest of the dev tooling.

use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

unsafe extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
    fn setsid() -> i32;
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    fn geteuid() -> u32;
    fn flock(fd: i32, operation: i32) -> i32;
}

pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: i32) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Turn SIGINT/SIGTERM into a flag (see [`interrupted`]) so that xtask can
/// clean up what it started. Children in our process group still get the
/// signal from the terminal.
pub fn catch_interrupts() {
    // SAFETY: the handler only stores into an atomic, which is async-signal-safe.
    unsafe {
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Run the command in a new session, so it outlives xtask and does not get
/// the terminal's Ctrl-C.
pub fn detach(cmd: &mut Command) -> &mut Command {
    // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            setsid();
            Ok(())
        })
    }
}

pub fn send_signal(pid: u32, sig: i32) -> bool {
    // SAFETY: plain syscall wrapper.
    unsafe { kill(pid as i32, sig) == 0 }
}

pub fn is_root() -> bool {
    // SAFETY: plain syscall wrapper.
    unsafe { geteuid() == 0 }
}

/// Whether `pid` is a live (not zombie) process whose command line contains
/// `needle`.
/// The pid recorded in `pid_file`, if that process is alive and is `needle`.
pub fn live_pid(pid_file: &std::path::Path, needle: &str) -> Option<u32> {
    let pid = std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    alive(pid, needle).then_some(pid)
}

pub fn alive(pid: u32, needle: &str) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state is the first field after the parenthesised command name.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    if matches!(state, None | Some('Z') | Some('X')) {
        return false;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&cmdline).contains(needle)
}

/// SIGTERM, wait up to `grace`, then SIGKILL. Returns once the process is gone.
pub fn terminate(pid: u32, needle: &str, grace: std::time::Duration) {
    if !alive(pid, needle) {
        return;
    }
    send_signal(pid, SIGTERM);
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline {
        if !alive(pid, needle) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    send_signal(pid, SIGKILL);
    while alive(pid, needle) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Hold an exclusive advisory lock on `path` (created if missing) until the
/// returned file is dropped or the process exits; waits for other holders.
pub fn lock(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    const LOCK_EX: i32 = 2;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    // SAFETY: the fd is valid for the lifetime of `file`.
    if unsafe { flock(file.as_raw_fd(), LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(file)
}
