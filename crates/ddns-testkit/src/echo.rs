//! An echo service whose answer a test changes by writing a file:
//! python3's `http.server` serving a directory on loopback.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `python3 -m http.server` serving a directory on a free loopback port:
/// `GET /ip` answers what the file `ip` in that directory holds at the
/// time. Killed on drop.
pub struct FileEcho {
    child: Child,
    port: u16,
}

impl FileEcho {
    /// Serves `dir`; `None` when python3 cannot be started (the caller
    /// skips, or fails under `DDNS_REQUIRE_SYSTEM_TESTS=1`).
    pub fn start(dir: &Path) -> Option<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let echo = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the echo server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(echo)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for FileEcho {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
