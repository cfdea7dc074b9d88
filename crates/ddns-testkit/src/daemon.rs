//! A `ddnsd` child process whose output is collected as it runs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// What a finished process printed and how it ended.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code, `None` when killed by a signal.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error (the logs).
    pub stderr: String,
}

#[derive(Default)]
struct Shared {
    stderr: Mutex<String>,
    changed: Condvar,
}

/// A running daemon. Killed on drop if still running.
pub struct Daemon {
    child: Child,
    shared: Arc<Shared>,
    stdout: Option<std::thread::JoinHandle<String>>,
    stderr: Option<std::thread::JoinHandle<()>>,
}

impl Daemon {
    /// Starts `command` with piped output.
    pub fn spawn(mut command: Command) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn the daemon");
        let shared = Arc::new(Shared::default());
        let err = child.stderr.take().expect("stderr");
        let out = child.stdout.take().expect("stdout");
        let stderr = std::thread::spawn({
            let shared = shared.clone();
            move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    let mut text = shared.stderr.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                    shared.changed.notify_all();
                }
            }
        });
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        Self {
            child,
            shared,
            stdout: Some(stdout),
            stderr: Some(stderr),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The logs so far.
    pub fn logs(&self) -> String {
        self.shared.stderr.lock().unwrap().clone()
    }

    /// Waits until the logs contain `needle` (panics after `timeout` with
    /// the logs). Timing is never asserted; the timeout only ends a failing test.
    pub fn wait_for(&self, needle: &str, timeout: Duration) {
        self.wait_until(timeout, |logs| logs.contains(needle), needle);
    }

    /// Waits until `check` holds for the logs.
    pub fn wait_until(&self, timeout: Duration, check: impl Fn(&str) -> bool, what: &str) {
        let deadline = Instant::now() + timeout;
        let mut text = self.shared.stderr.lock().unwrap();
        while !check(&text) {
            let now = Instant::now();
            if now >= deadline {
                panic!("timed out waiting for {what:?}; logs so far:\n{text}");
            }
            text = self
                .shared
                .changed
                .wait_timeout(text, deadline - now)
                .unwrap()
                .0;
        }
    }

    /// Sends a signal (`TERM`, `INT`, `KILL`) with `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to end and collects its output.
    pub fn finish(mut self) -> Output {
        let status = self.child.wait().expect("wait for the daemon");
        if let Some(handle) = self.stderr.take() {
            let _ = handle.join();
        }
        let stdout = self
            .stdout
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        Output {
            code: status.code(),
            stdout,
            stderr: self.logs(),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
