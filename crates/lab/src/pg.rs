//! A throwaway PostgreSQL cluster for the contract benchmark: find (or
//! install) the binaries, `initdb` a cluster in a temporary directory,
//! start it on a free loopback port, run SQL with `psql` and load with
//! `pgbench`, and stop it again (also when dropped).
//!
//! The server refuses to run as root; when this process is root, the
//! server-side commands (`initdb`, `pg_ctl`) run as the `postgres` user
//! (created by the distribution's package) through `runuser`, and the
//! directory is handed to that user. Clients (`psql`, `pgbench`) connect
//! over TCP with trust authentication, as the node's clients do over
//! loopback HTTP.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use aergo_client::{CliError, Result};

/// Longest a cluster may take to start or stop.
const PG_CTL_TIMEOUT_S: u32 = 60;

fn pg_err(what: impl Into<String>, reason: impl Into<String>) -> CliError {
    CliError::PostgreSql { what: what.into(), reason: reason.into() }
}

/// Where the PostgreSQL programs are.
#[derive(Clone, Debug)]
pub struct PgBinaries {
    pub bindir: PathBuf,
}

impl PgBinaries {
    fn tool(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }

    fn complete(dir: &Path) -> bool {
        ["initdb", "pg_ctl", "postgres", "psql", "pgbench"].iter().all(|t| dir.join(t).is_file())
    }

    /// Finds the binaries: `$AERGO_PG_BINDIR`, the newest
    /// `/usr/lib/postgresql/*/bin`, `pg_config --bindir`, then `PATH`.
    pub fn find() -> Option<PgBinaries> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(d) = std::env::var_os("AERGO_PG_BINDIR") {
            candidates.push(PathBuf::from(d));
        }
        if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
            let mut versions: Vec<(u32, PathBuf)> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path().join("bin"))))
                .collect();
            versions.sort();
            candidates.extend(versions.into_iter().rev().map(|(_, p)| p));
        }
        if let Ok(out) = Command::new("pg_config").arg("--bindir").stderr(Stdio::null()).output() {
            if out.status.success() {
                candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
            }
        }
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path));
        }
        candidates.into_iter().find(|d| Self::complete(d)).map(|bindir| PgBinaries { bindir })
    }

    /// Finds the binaries, installing the distribution's `postgresql`
    /// package with apt-get (as root) when they are missing. `progress`
    /// hears what is being done.
    pub fn find_or_install(progress: &mut dyn FnMut(&str)) -> Result<PgBinaries> {
        if let Some(b) = Self::find() {
            return Ok(b);
        }
        if !is_root() {
            return Err(pg_err(
                "PostgreSQL",
                "not installed, and installing it needs root: run `apt-get install -y postgresql` (or set \
                 AERGO_PG_BINDIR to its bin directory)",
            ));
        }
        progress("PostgreSQL is not installed: apt-get install -y postgresql ...");
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends", "postgresql", "postgresql-contrib"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null())
                .output()
        };
        let mut out = install().map_err(|e| pg_err("apt-get install postgresql", e.to_string()))?;
        if !out.status.success() {
            progress("apt-get install failed; apt-get update and retry ...");
            let _ = Command::new("apt-get").arg("update").stdout(Stdio::null()).stderr(Stdio::null()).status();
            out = install().map_err(|e| pg_err("apt-get install postgresql", e.to_string()))?;
        }
        if !out.status.success() {
            return Err(pg_err("apt-get install postgresql", tail(&out.stderr)));
        }
        Self::find().ok_or_else(|| pg_err("PostgreSQL", "installed, but initdb/pg_ctl/pgbench are not to be found"))
    }

    /// `postgres --version`.
    pub fn version(&self) -> String {
        Command::new(self.tool("postgres"))
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown version".into())
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .is_some_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn id_of(flag: &str, user: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, user]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The last lines of a command's output, for error messages.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join(" | ")
}

fn run(what: &str, cmd: &mut Command) -> Result<Output> {
    let out = cmd.output().map_err(|e| pg_err(what, format!("cannot run: {e}")))?;
    if !out.status.success() {
        return Err(pg_err(what, format!("{}: {}{}", out.status, tail(&out.stderr), tail(&out.stdout))));
    }
    Ok(out)
}

/// A running throwaway cluster. Stopped and deleted when dropped.
pub struct Cluster {
    bin: PgBinaries,
    /// Holds the data directory; deleted last.
    dir: tempfile::TempDir,
    pub port: u16,
    /// Run server commands as this user (`Some("postgres")` when root).
    server_user: Option<String>,
    running: bool,
}

impl Cluster {
    /// `initdb` (C locale, trust authentication, no fsync at init) and
    /// start with `settings` (`name=value` server options) on a free
    /// loopback port.
    pub fn start(bin: &PgBinaries, settings: &[&str]) -> Result<Cluster> {
        let dir = tempfile::Builder::new().prefix("aergo-pgbench-").tempdir().map_err(|source| CliError::Io {
            what: "creating a temporary directory in",
            path: std::env::temp_dir(),
            source,
        })?;
        let server_user = if is_root() {
            let (uid, gid) = match (id_of("-u", "postgres"), id_of("-g", "postgres")) {
                (Some(u), Some(g)) => (u, g),
                _ => {
                    return Err(pg_err(
                        "PostgreSQL as root",
                        "the server refuses to run as root and there is no `postgres` user to run it as",
                    ))
                }
            };
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .map_err(|e| pg_err("handing the cluster directory to postgres", e.to_string()))?;
            Some("postgres".to_string())
        } else {
            None
        };
        let port = free_port()?;
        let mut c = Cluster { bin: bin.clone(), dir, port, server_user, running: false };
        let data = c.data_dir();
        let mut initdb = c.server_cmd("initdb");
        initdb.arg("-D").arg(&data).args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]);
        run("initdb", &mut initdb)?;
        let mut options = format!("-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''");
        for s in settings {
            options.push_str(&format!(" -c {s}"));
        }
        let log = c.dir.path().join("server.log");
        let mut start = c.server_cmd("pg_ctl");
        start.arg("-D").arg(&data).arg("-l").arg(&log).args([
            "-w",
            "-t",
            &PG_CTL_TIMEOUT_S.to_string(),
            "-o",
            &options,
            "start",
        ]);
        if let Err(e) = run("pg_ctl start", &mut start) {
            let server_log = std::fs::read(&log).map(|b| tail(&b)).unwrap_or_default();
            return Err(pg_err("pg_ctl start", format!("{e}; server log: {server_log}")));
        }
        c.running = true;
        Ok(c)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn server_cmd(&self, tool: &str) -> Command {
        match &self.server_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(self.bin.tool(tool));
                c
            }
            None => Command::new(self.bin.tool(tool)),
        }
    }

    /// The directory of the cluster (scripts may be written there).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn client_cmd(&self, tool: &str) -> Command {
        let mut c = Command::new(self.bin.tool(tool));
        c.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres"]);
        c.env_remove("PGOPTIONS").env_remove("PGPASSWORD").env_remove("PGDATABASE");
        c
    }

    /// Runs an SQL script with `psql`, stopping at the first error;
    /// returns its output (unaligned, tuples only).
    pub fn psql(&self, what: &str, sql: &str) -> Result<String> {
        let file = self.dir.path().join("script.sql");
        std::fs::write(&file, sql).map_err(|source| CliError::Io { what: "writing", path: file.clone(), source })?;
        let mut cmd = self.client_cmd("psql");
        cmd.args(["-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-A", "-t", "-f"]).arg(&file);
        let out = run(what, &mut cmd)?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Runs `pgbench -n -c clients -j threads -T seconds -f script` with
    /// `options` (server settings for the session, `PGOPTIONS`); returns
    /// the transactions per second (without connection time) and the
    /// transactions processed.
    pub fn pgbench(
        &self,
        script: &str,
        clients: usize,
        threads: usize,
        seconds: u64,
        options: &str,
    ) -> Result<PgbenchResult> {
        let file = self.dir.path().join("custom.sql");
        std::fs::write(&file, script).map_err(|source| CliError::Io { what: "writing", path: file.clone(), source })?;
        let mut cmd = self.client_cmd("pgbench");
        cmd.args(["-n", "-c", &clients.to_string(), "-j", &threads.to_string(), "-T", &seconds.to_string(), "-f"])
            .arg(&file)
            .arg("postgres")
            .env("PGOPTIONS", options);
        let out = run("pgbench", &mut cmd)?;
        parse_pgbench(&String::from_utf8_lossy(&out.stdout))
    }

    /// Stops the server (fast shutdown).
    pub fn stop(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        let mut stop = self.server_cmd("pg_ctl");
        stop.arg("-D").arg(self.data_dir()).args(["-m", "fast", "-w", "-t", &PG_CTL_TIMEOUT_S.to_string(), "stop"]);
        run("pg_ctl stop", &mut stop).map(|_| ())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// What one pgbench run reported.
#[derive(Clone, Debug, PartialEq)]
pub struct PgbenchResult {
    pub tps: f64,
    pub transactions: u64,
    pub failed: u64,
}

/// Reads pgbench's summary.
pub fn parse_pgbench(text: &str) -> Result<PgbenchResult> {
    let field = |prefix: &str| text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(str::trim));
    let tps = field("tps = ")
        .and_then(|t| t.split_whitespace().next())
        .and_then(|t| t.parse::<f64>().ok())
        .ok_or_else(|| pg_err("pgbench", format!("no \"tps = \" line in its output: {}", tail(text.as_bytes()))))?;
    let transactions = field("number of transactions actually processed:")
        .and_then(|t| t.split(['/', ' ']).next())
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| pg_err("pgbench", "no count of processed transactions in its output"))?;
    let failed =
        field("number of failed transactions:").and_then(|t| t.split_whitespace().next()?.parse().ok()).unwrap_or(0);
    Ok(PgbenchResult { tps, transactions, failed })
}

/// A loopback port nobody listens on now.
fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|e| pg_err("finding a free port", e.to_string()))?;
    l.local_addr().map(|a| a.port()).map_err(|e| pg_err("finding a free port", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgbench_summaries_parse() {
        let out = "transaction type: custom.sql\nscaling factor: 1\nquery mode: simple\nnumber of clients: 8\n\
                   number of threads: 2\nmaximum number of tries: 1\nduration: 5 s\n\
                   number of transactions actually processed: 8141\n\
                   number of failed transactions: 0 (0.000%)\nlatency average = 4.898 ms\n\
                   initial connection time = 27.560 ms\ntps = 1633.366010 (without initial connection time)\n";
        assert_eq!(parse_pgbench(out).unwrap(), PgbenchResult { tps: 1633.36601, transactions: 8141, failed: 0 });
        // Older versions: "tps = ... (excluding connections establishing)", no failure line.
        let old = "number of transactions actually processed: 10/10\ntps = 12.5 (excluding connections establishing)\n";
        assert_eq!(parse_pgbench(old).unwrap(), PgbenchResult { tps: 12.5, transactions: 10, failed: 0 });
        assert!(parse_pgbench("nothing").unwrap_err().to_string().contains("tps"));
    }
}
