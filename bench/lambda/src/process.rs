//! One function process: started from its release binary with a controlled environment (nothing
//! inherited from the caller's shell), pointed at a local Runtime API, and stopped by the PID it
//! was started with.

use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Instant;

use anyhow::{Context, anyhow};

/// What a function process is started with.
pub struct Launch<'a> {
    pub binary: &'a Path,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: &'a str,
    pub runtime_api: SocketAddr,
    /// Folder of the embedded store and the dev secrets (`LOCAL_DATA_DIR`).
    pub data_dir: &'a Path,
    /// Settings on top of the common ones, e.g. `SEED_DEMO_ACCOUNTS`.
    pub extra_env: &'a [(String, String)],
    /// Where its stdout and stderr (its JSON log lines) go, appended.
    pub log: &'a Path,
}

/// A running function; killed (SIGKILL to its PID) and reaped when dropped.
pub struct FunctionProcess {
    child: Child,
    /// Just before the process was spawned: the zero of every time measured on it.
    pub started: Instant,
    pub log: PathBuf,
}

impl FunctionProcess {
    pub fn start(launch: &Launch<'_>) -> anyhow::Result<Self> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(launch.log)
            .with_context(|| format!("cannot open {}", launch.log.display()))?;
        let mut command = Command::new(launch.binary);
        command
            .env_clear()
            .envs(common_env(launch))
            .envs(
                launch
                    .extra_env
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", launch.binary.display()))?;
        Ok(Self {
            child,
            started,
            log: launch.log.to_owned(),
        })
    }

    /// Its exit status, once it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The most memory it has held resident so far (`VmHWM` in `/proc/<pid>/status`), in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let path = format!("/proc/{}/status", self.child.id());
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| anyhow!("no VmHWM in {path}"))
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        // `Child::kill` signals this child's own PID; nothing else is ever signalled.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment of every function: the dev configuration on the embedded store, what the
/// Lambda service sets, and AWS settings that keep the SDK from probing any network.
fn common_env(launch: &Launch<'_>) -> Vec<(&'static str, String)> {
    vec![
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("ENV", "dev".to_owned()),
        ("STORE", "embedded".to_owned()),
        ("LOCAL_DATA_DIR", launch.data_dir.display().to_string()),
        ("AWS_LAMBDA_RUNTIME_API", launch.runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", launch.function_name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", launch.function_name),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench-lambda".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "dummy".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "dummy".to_owned()),
    ]
}
