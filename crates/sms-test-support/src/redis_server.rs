//! A redis-server of a test's own, on a free port, that the test may stop, restart or slow down.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `redis-server --port <free> --save '' --appendonly no`, killed when dropped: for
/// tests of what happens when Redis stops, restarts or stalls, and for benchmarks that count the
/// server's own commands and CPU.
#[derive(Debug)]
pub struct OwnRedis {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts one on a free port; fails the test saying how to install redis-server when it cannot.
    pub async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self { port, child: None };
        server.restart().await;
        server
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port and waits until it answers.
    pub async fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "these tests start their own redis-server, which could not be run ({e}): install \
                     it with `apt-get install redis-server` (or run `bash .ci/run`, which does)"
                )
            });
        self.child = Some(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("redis-server on port {} did not start", self.port);
    }

    /// Stops the server (SIGKILL: nothing is saved, as with a crash).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A plain client connection to run admin commands (`DEBUG SLEEP`, `CONFIG SET`).
    pub async fn admin(&self) -> redis::aio::MultiplexedConnection {
        // No response timeout: `DEBUG SLEEP` answers only when the stall is over.
        let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
        redis::Client::open(self.url())
            .expect("url")
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .expect("connect to the test's own redis-server")
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
