//! Detached processes for `aergo horde`: start one with a pid file and a
//! log, tell whether it still runs, stop it with SIGTERM and then SIGKILL.
//!
//! A process is started in a process group of its own (so a Ctrl-C in the
//! terminal that ran `horde up` does not reach it) with stdin closed and
//! stdout and stderr appended to its log. The command that started it
//! exits soon after; the process lives on and is found again through its
//! pid file.
//!
//! A pid can be reused by an unrelated program once its process is gone,
//! so "running" means more than "the pid exists": on Linux the process
//! must not be a zombie and its command line must contain a *marker*
//! argument (a horde node's data directory). Only then is it signalled,
//! and signals go to its process group (the node and anything it started).
//! Elsewhere on Unix, existence of the pid is all that can be checked.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aergo_client::{CliError, Result};

/// How often a stop looks whether the processes are gone.
pub const STOP_POLL_MS: u64 = 50;
/// How long a SIGKILL may take to reap a process before a stop gives up.
pub const KILL_WAIT_MS: u64 = 5_000;
/// How often, and how far apart, an empty command line is read again.
#[cfg(target_os = "linux")]
const CMDLINE_RETRIES: u32 = 20;
#[cfg(target_os = "linux")]
const CMDLINE_RETRY_MS: u64 = 5;
/// Largest pid file read.
const PID_FILE_MAX_BYTES: u64 = 64;

/// What a stop did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopOutcome {
    /// Nothing ran (no pid file, or a stale one, which was removed).
    NotRunning,
    /// Exited after SIGTERM within the grace period.
    Terminated,
    /// Was sent SIGKILL (asked for, or it ignored SIGTERM) and is gone.
    Killed,
}

impl StopOutcome {
    pub fn describe(self) -> &'static str {
        match self {
            StopOutcome::NotRunning => "not running",
            StopOutcome::Terminated => "stopped",
            StopOutcome::Killed => "killed",
        }
    }
}

/// A process to stop: its pid file and the marker its command line holds.
#[derive(Clone, Debug)]
pub struct Target {
    pub pid_file: PathBuf,
    pub marker: PathBuf,
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> CliError + 'a {
    move |source| CliError::Io { what, path: path.to_path_buf(), source }
}

/// Starts `cmd` detached, appending its output to `log_file`; writes its
/// pid to `pid_file` and returns it.
pub fn spawn_detached(mut cmd: Command, pid_file: &Path, log_file: &Path) -> Result<u32> {
    let log = OpenOptions::new().create(true).append(true).open(log_file).map_err(io_err("opening", log_file))?;
    let log2 = log.try_clone().map_err(io_err("opening", log_file))?;
    cmd.stdin(Stdio::null()).stdout(log).stderr(log2);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let program = PathBuf::from(cmd.get_program());
    let child = cmd.spawn().map_err(io_err("starting", &program))?;
    let pid = child.id();
    // The child is not waited for here: it outlives this process.
    drop(child);
    write_atomic(pid_file, &format!("{pid}\n"))?;
    Ok(pid)
}

/// Writes a small file whole or not at all (a reader never sees half a
/// pid).
pub fn write_atomic(path: &Path, contents: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).map_err(io_err("writing", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err("renaming into", path))
}

/// The pid in `pid_file`, if the file exists.
pub fn read_pid(pid_file: &Path) -> Result<Option<u32>> {
    let meta = match std::fs::metadata(pid_file) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err("reading", pid_file)(e)),
    };
    if meta.len() > PID_FILE_MAX_BYTES {
        return Err(CliError::invalid(
            "pid file",
            &pid_file.display().to_string(),
            format!("{} bytes, a pid file holds one number", meta.len()),
        ));
    }
    let text = std::fs::read_to_string(pid_file).map_err(io_err("reading", pid_file))?;
    match text.trim().parse::<u32>() {
        Ok(pid) if pid > 1 => Ok(Some(pid)),
        _ => Err(CliError::invalid(
            "pid file",
            &pid_file.display().to_string(),
            format!("holds {:?}, not a process id; remove it if no node runs there", text.trim()),
        )),
    }
}

/// True when `pid` is a live process whose command line holds `marker`.
#[cfg(target_os = "linux")]
pub fn is_running(pid: u32, marker: &Path) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = std::fs::read_to_string(proc_dir.join("stat")) else { return false };
    // The state follows the command name, which is in parentheses and may
    // itself contain ") ".
    let state = stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next());
    if matches!(state, None | Some("Z") | Some("X") | Some("x")) {
        return false;
    }
    // Right after exec the kernel can show an empty command line for a
    // moment; a process that keeps an empty one (a kernel thread) is not
    // ours.
    let mut cmdline = Vec::new();
    for _ in 0..CMDLINE_RETRIES {
        let Ok(c) = std::fs::read(proc_dir.join("cmdline")) else { return false };
        if !c.is_empty() {
            cmdline = c;
            break;
        }
        std::thread::sleep(Duration::from_millis(CMDLINE_RETRY_MS));
    }
    use std::os::unix::ffi::OsStrExt;
    let marker = marker.as_os_str().as_bytes();
    cmdline.split(|b| *b == 0).any(|arg| arg == marker)
}

/// True when `pid` exists (the marker cannot be checked here).
#[cfg(all(unix, not(target_os = "linux")))]
pub fn is_running(pid: u32, _marker: &Path) -> bool {
    let Ok(raw) = i32::try_from(pid) else { return false };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None).is_ok()
}

#[cfg(not(unix))]
pub fn is_running(_pid: u32, _marker: &Path) -> bool {
    false
}

/// The pid of `target` if it runs; removes a stale pid file.
pub fn running_pid(target: &Target) -> Result<Option<u32>> {
    let Some(pid) = read_pid(&target.pid_file)? else { return Ok(None) };
    if is_running(pid, &target.marker) {
        return Ok(Some(pid));
    }
    remove_pid_file(&target.pid_file)?;
    Ok(None)
}

fn remove_pid_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("removing", path)(e)),
    }
}

#[derive(Clone, Copy)]
enum Sig {
    Term,
    Kill,
}

#[cfg(unix)]
fn signal_group(pid: u32, sig: Sig) -> Result<()> {
    use nix::sys::signal::{killpg, Signal};
    let raw =
        i32::try_from(pid).map_err(|_| CliError::invalid("pid", &pid.to_string(), "out of range for a process id"))?;
    let signal = match sig {
        Sig::Term => Signal::SIGTERM,
        Sig::Kill => Signal::SIGKILL,
    };
    match killpg(nix::unistd::Pid::from_raw(raw), signal) {
        // Gone in the meantime: what was wanted.
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(CliError::Task { what: "signalling a node", reason: format!("process group {pid}: {e}") }),
    }
}

#[cfg(not(unix))]
fn signal_group(pid: u32, _sig: Sig) -> Result<()> {
    Err(CliError::Task { what: "signalling a node", reason: format!("process {pid}: only supported on Unix") })
}

/// Stops every target: SIGTERM to all (or SIGKILL with `kill`), then waits
/// up to `grace` for them together, then SIGKILL for those still running.
/// Blocks the calling thread. One outcome per target, in order.
pub fn stop_all(targets: &[Target], grace: Duration, kill: bool) -> Vec<Result<StopOutcome>> {
    let mut out: Vec<Option<Result<StopOutcome>>> = Vec::with_capacity(targets.len());
    let mut live: Vec<(usize, u32)> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        match running_pid(t) {
            Ok(None) => out.push(Some(Ok(StopOutcome::NotRunning))),
            Ok(Some(pid)) => match signal_group(pid, if kill { Sig::Kill } else { Sig::Term }) {
                Ok(()) => {
                    out.push(None);
                    live.push((i, pid));
                }
                Err(e) => out.push(Some(Err(e))),
            },
            Err(e) => out.push(Some(Err(e))),
        }
    }
    let first = if kill { StopOutcome::Killed } else { StopOutcome::Terminated };
    let wait_gone = |live: &mut Vec<(usize, u32)>, out: &mut Vec<Option<Result<StopOutcome>>>, limit: Duration, how| {
        let deadline = Instant::now() + limit;
        loop {
            live.retain(|(i, pid)| {
                if is_running(*pid, &targets[*i].marker) {
                    return true;
                }
                out[*i] = Some(remove_pid_file(&targets[*i].pid_file).map(|()| how));
                false
            });
            if live.is_empty() || Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(STOP_POLL_MS));
        }
    };
    wait_gone(&mut live, &mut out, if kill { Duration::from_millis(KILL_WAIT_MS) } else { grace }, first);
    if !kill && !live.is_empty() {
        for (i, pid) in &live {
            if let Err(e) = signal_group(*pid, Sig::Kill) {
                out[*i] = Some(Err(e));
            }
        }
        live.retain(|(i, _)| out[*i].is_none());
        wait_gone(&mut live, &mut out, Duration::from_millis(KILL_WAIT_MS), StopOutcome::Killed);
    }
    for (i, pid) in live {
        out[i] = Some(Err(CliError::Task {
            what: "stopping a node",
            reason: format!("process {pid} still runs {KILL_WAIT_MS} ms after SIGKILL"),
        }));
    }
    out.into_iter()
        .map(|o| {
            o.unwrap_or_else(|| Err(CliError::Task { what: "stopping a node", reason: "no outcome recorded".into() }))
        })
        .collect()
}

/// The last `max_lines` lines of a log (reading at most its last 16 KiB).
pub fn log_tail(path: &Path, max_lines: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    const MAX_BYTES: u64 = 16 << 10;
    let Ok(mut f) = std::fs::File::open(path) else { return String::new() };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if f.seek(SeekFrom::Start(len.saturating_sub(MAX_BYTES))).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    if f.take(MAX_BYTES).read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(max_lines)..].join("\n")
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A shell that runs `script` and carries `marker` as an argument, the
    /// way a node carries its data directory.
    fn shell(script: &str, marker: &Path) -> Command {
        let mut c = Command::new("sh");
        // "; :" keeps the shell from exec'ing the last command in place,
        // so the marker stays on a live command line.
        c.arg("-c").arg(format!("{script}; :")).arg(marker);
        c
    }

    #[test]
    fn spawn_find_and_stop_detached_processes() {
        let tmp = tempfile::tempdir().unwrap();
        let marker = tmp.path().join("node0");
        let pid_file = tmp.path().join("node.pid");
        let log = tmp.path().join("node.log");
        let target = Target { pid_file: pid_file.clone(), marker: marker.clone() };

        assert_eq!(running_pid(&target).unwrap(), None);
        let pid = spawn_detached(shell("echo started; sleep 30", &marker), &pid_file, &log).unwrap();
        assert_eq!(read_pid(&pid_file).unwrap(), Some(pid));
        assert_eq!(running_pid(&target).unwrap(), Some(pid));
        // Another marker does not match: a reused pid is not "ours".
        assert!(!is_running(pid, &tmp.path().join("other")));

        // Stop it once it has written to its log.
        let deadline = Instant::now() + Duration::from_secs(10);
        while log_tail(&log, 5).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let outcomes = stop_all(std::slice::from_ref(&target), Duration::from_secs(10), false);
        assert_eq!(outcomes[0].as_ref().unwrap(), &StopOutcome::Terminated);
        assert!(!pid_file.exists());
        assert!(!is_running(pid, &marker));
        assert_eq!(log_tail(&log, 5), "started");
        // Stopping again is harmless.
        assert_eq!(
            stop_all(std::slice::from_ref(&target), Duration::from_secs(1), false)[0].as_ref().unwrap(),
            &StopOutcome::NotRunning
        );
    }

    #[test]
    fn sigterm_ignored_means_sigkill_and_kill_is_immediate() {
        let tmp = tempfile::tempdir().unwrap();
        let stubborn = Target { pid_file: tmp.path().join("a.pid"), marker: tmp.path().join("a") };
        let quick = Target { pid_file: tmp.path().join("b.pid"), marker: tmp.path().join("b") };
        let log = tmp.path().join("log");
        spawn_detached(shell("trap '' TERM; sleep 30", &stubborn.marker), &stubborn.pid_file, &log).unwrap();
        spawn_detached(shell("sleep 30", &quick.marker), &quick.pid_file, &log).unwrap();
        // Let the shell install its trap before it is signalled.
        std::thread::sleep(Duration::from_millis(300));
        let started = Instant::now();
        let out = stop_all(&[stubborn.clone(), quick.clone()], Duration::from_millis(500), false);
        assert_eq!(out[0].as_ref().unwrap(), &StopOutcome::Killed);
        assert_eq!(out[1].as_ref().unwrap(), &StopOutcome::Terminated);
        assert!(started.elapsed() < Duration::from_secs(5));

        spawn_detached(shell("trap '' TERM; sleep 30", &stubborn.marker), &stubborn.pid_file, &log).unwrap();
        let out = stop_all(std::slice::from_ref(&stubborn), Duration::from_secs(60), true);
        assert_eq!(out[0].as_ref().unwrap(), &StopOutcome::Killed);
    }

    #[test]
    fn stale_and_bad_pid_files() {
        let tmp = tempfile::tempdir().unwrap();
        let t = Target { pid_file: tmp.path().join("x.pid"), marker: tmp.path().join("x") };
        // A pid that is certainly not ours: this test process, without the marker.
        std::fs::write(&t.pid_file, format!("{}\n", std::process::id())).unwrap();
        assert_eq!(running_pid(&t).unwrap(), None);
        assert!(!t.pid_file.exists(), "a stale pid file is removed");
        std::fs::write(&t.pid_file, "garbage").unwrap();
        assert!(running_pid(&t).unwrap_err().to_string().contains("not a process id"));
        std::fs::write(&t.pid_file, "1".repeat(100)).unwrap();
        assert!(read_pid(&t.pid_file).is_err());
    }
}
