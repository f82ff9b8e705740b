//! A receiver of the gateway's callbacks on 127.0.0.1:0: it checks each one's Standard Webhooks
//! signature, keeps what it got and answers as the test tells it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use sms_store::WallClock;

/// The signing secret the tests configure (`[gateway.callbacks] secret`).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One POST the receiver got: the event id, the JSON body, whether its signature held, and what
/// the receiver answered.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub body: serde_json::Value,
    pub signed: bool,
    pub answered: u16,
}

#[derive(Clone)]
pub struct Receiver {
    /// The answer to every request once `script` is empty.
    pub answer: Arc<AtomicU16>,
    /// Answers given first, one per request, before `answer`.
    pub script: Arc<Mutex<VecDeque<u16>>>,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    /// Starts a receiver answering `answer`; returns it and the URL to configure. With `clock`, a
    /// signature's timestamp must be within the tolerance of that clock's now; without, only the
    /// signature itself is checked.
    pub async fn spawn(clock: Option<Arc<dyn WallClock>>, answer: u16) -> (Self, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::spawn_on(listener, clock, answer)
    }

    /// A socket bound to a port but not listening: a receiver that is down (connections to it are
    /// refused), whose port no other test can take. [`Self::spawn_at`] brings it up.
    pub fn down() -> (tokio::net::TcpSocket, std::net::SocketAddr) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = socket.local_addr().unwrap();
        (socket, addr)
    }

    /// As [`Self::spawn`], listening on a socket from [`Self::down`].
    pub fn spawn_at(
        socket: tokio::net::TcpSocket,
        clock: Option<Arc<dyn WallClock>>,
        answer: u16,
    ) -> (Self, String) {
        Self::spawn_on(socket.listen(128).unwrap(), clock, answer)
    }

    fn spawn_on(
        listener: tokio::net::TcpListener,
        clock: Option<Arc<dyn WallClock>>,
        answer: u16,
    ) -> (Self, String) {
        let receiver = Receiver {
            answer: Arc::new(AtomicU16::new(answer)),
            script: Arc::default(),
            got: Arc::default(),
        };
        let r = receiver.clone();
        let app = axum::Router::new().route(
            "/events",
            post(move |headers: HeaderMap, body: bytes::Bytes| {
                let (r, clock) = (r.clone(), clock.clone());
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    let id = header("webhook-id");
                    let timestamp: i64 = header("webhook-timestamp").parse().unwrap_or(0);
                    let now = clock.map_or(timestamp, |c| c.now_ms() / 1000);
                    let signed = sms_gateway::signing::verify(
                        SECRET,
                        &id,
                        timestamp,
                        &body,
                        &header("webhook-signature"),
                        now,
                    )
                    .is_ok();
                    let scripted = r.script.lock().unwrap().pop_front();
                    let answered = scripted.unwrap_or_else(|| r.answer.load(Ordering::SeqCst));
                    r.got.lock().unwrap().push(Received {
                        id,
                        body: serde_json::from_slice(&body).unwrap_or_default(),
                        signed,
                        answered,
                    });
                    StatusCode::from_u16(answered).unwrap()
                }
            }),
        );
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    /// Everything received so far, in order.
    pub fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The events of type `kind` received so far, in order.
    pub fn of_type(&self, kind: &str) -> Vec<Received> {
        self.got()
            .into_iter()
            .filter(|r| r.body["type"] == kind)
            .collect()
    }
}
