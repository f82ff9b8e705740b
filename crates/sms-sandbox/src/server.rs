//! The listener: accepts connections, reads requests with a body cap, applies faults, routes to
//! the products or the control API, and shuts down when the handle is dropped.

use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::faults::FaultKind;
use crate::products::{self, Ctx};
use crate::render::Reply;
use crate::state::Shared;
use crate::wall_timer::{self, WallTimer};
use crate::{control, pushes};

/// Size of the body sent by [`FaultKind::OversizedBody`].
const OVERSIZED_BYTES: u64 = 10 * 1024 * 1024;

/// Accepts connections until the shutdown channel closes.
///
/// At most `max_connections` are served at once: the loop stops accepting while that many are open,
/// so further clients wait in the listen backlog (their connect succeeds, their request waits) rather
/// than being refused. Every connection has the header-read timeout on the wall clock, which also
/// closes idle keep-alive connections, so waiting clients get a slot within that time.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let slots = Arc::new(Semaphore::new(shared.config.max_connections));
    let header_read_timeout = shared.config.header_read_timeout();
    loop {
        let slot = tokio::select! {
            _ = shutdown.changed() => return,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed.
                Err(_) => return,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.changed() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let mut conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            // Held until the connection ends.
            let _slot = slot;
            let service = service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { respond(shared, req, peer).await }
            });
            let conn = http1::Builder::new()
                .timer(WallTimer)
                .header_read_timeout(header_read_timeout)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                result = conn => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, "connection ended: {e}");
                    }
                }
                _ = conn_shutdown.changed() => {}
            }
        });
    }
}

/// Returned by the service to make hyper drop the connection without an answer.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

async fn respond(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<ReplyBody>, DropConnection> {
    let path = req.uri().path();
    if path == "/_sandbox" || path.starts_with("/_sandbox/") {
        let reply = match read_body(&shared, req).await {
            Ok((parts, body)) => control::answer(&shared, &parts, &body),
            Err(reply) => reply,
        };
        return Ok(finish(reply));
    }
    let Some((product, page)) = products::route(path) else {
        return Ok(finish(Reply::plain(StatusCode::NOT_FOUND, "no such endpoint")));
    };
    shared.count_request(product);
    if req.method() != Method::GET && req.method() != Method::POST {
        let mut response = finish(Reply::plain(StatusCode::METHOD_NOT_ALLOWED, "use GET or POST"));
        response
            .headers_mut()
            .insert("allow", HeaderValue::from_static("GET, POST"));
        return Ok(response);
    }
    let path = path.to_owned();
    let (parts, body) = match read_body(&shared, req).await {
        Ok(pair) => pair,
        Err(reply) => return Ok(finish(reply)),
    };

    let decision = shared.decide_faults(product, &path);
    if let Some(delay) = decision.delay {
        tokio::time::sleep(delay).await;
    }
    let mut forced = None;
    let mut damage = None;
    match decision.action {
        None => {}
        Some(FaultKind::HttpStatus(code)) => return Ok(finish(status_page(code))),
        Some(FaultKind::Hang) => {
            // The connection task is dropped on shutdown, which ends this wait.
            std::future::pending::<()>().await;
        }
        Some(FaultKind::CloseWithoutResponse) => return Err(DropConnection),
        Some(FaultKind::ProviderCode(code)) => forced = Some(code),
        Some(kind) => damage = Some(kind),
    }

    let ctx = Ctx {
        shared: &shared,
        product,
        page,
        peer: peer.ip(),
        // Millisecond precision, as the control API reports it.
        now: crate::clock::from_unix_millis(crate::clock::unix_millis(SystemTime::now())),
        instant: tokio::time::Instant::now(),
        forced,
    };
    let content_type = parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let outcome = products::answer(&ctx, parts.uri.query(), content_type, &body);
    for job in outcome.pushes {
        pushes::spawn(&shared, job);
    }
    Ok(match damage {
        Some(kind) => damaged(outcome.reply, &kind),
        None => finish(outcome.reply),
    })
}

/// Reads the whole body, refusing more than the configured cap with 413.
async fn read_body(
    shared: &Shared,
    req: Request<Incoming>,
) -> Result<(hyper::http::request::Parts, Bytes), Reply> {
    let cap = shared.config.max_body_bytes;
    let too_large = || {
        Reply::plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {cap} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let (parts, body) = req.into_parts();
    // The body gets the header-read timeout too (from when its head arrived): a request whose body
    // stops half-way must not hold its connection forever either.
    let timeout = shared.config.header_read_timeout();
    let collected = tokio::select! {
        // Biased: a body already received (the usual case) completes on the first poll, and the
        // timer, registered only when polled, then costs nothing.
        biased;
        collected = Limited::new(body, cap).collect() => collected,
        () = wall_timer::sleep(timeout) => {
            return Err(Reply::plain(
                StatusCode::REQUEST_TIMEOUT,
                format!("the request body did not arrive within {} ms", timeout.as_millis()),
            ));
        }
    };
    match collected {
        Ok(collected) => Ok((parts, collected.to_bytes())),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(Reply::plain(
            StatusCode::BAD_REQUEST,
            format!("cannot read the request body: {e}"),
        )),
    }
}

fn status_page(code: u16) -> Reply {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    Reply {
        status,
        content_type: "text/html",
        body: Bytes::from(format!(
            "<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>\n"
        )),
    }
}

fn finish(reply: Reply) -> Response<ReplyBody> {
    build(
        reply.status,
        reply.content_type,
        ReplyBody::Full(Some(reply.body)),
    )
}

fn build(status: StatusCode, content_type: &'static str, body: ReplyBody) -> Response<ReplyBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("x-sms-sandbox", HeaderValue::from_static("simulator"));
    response
}

/// Applies a body-damaging fault to a handled request's answer.
fn damaged(reply: Reply, kind: &FaultKind) -> Response<ReplyBody> {
    let body = reply.body;
    match kind {
        FaultKind::ResetMidBody => {
            let half = body.slice(..body.len() / 2);
            build(
                reply.status,
                reply.content_type,
                ReplyBody::ResetAfter {
                    first: Some(half),
                    pause: None,
                    total: body.len().max(2) as u64,
                },
            )
        }
        FaultKind::GarbledBody => {
            let garbled: Vec<u8> = body.iter().map(|b| b ^ 0xA5).collect();
            build(
                StatusCode::OK,
                reply.content_type,
                ReplyBody::Full(Some(Bytes::from(garbled))),
            )
        }
        FaultKind::TruncatedBody => build(
            StatusCode::OK,
            reply.content_type,
            ReplyBody::Full(Some(body.slice(..body.len() / 2))),
        ),
        FaultKind::OversizedBody => {
            let filler = Bytes::from(vec![b'x'; 64 * 1024]);
            let remaining = OVERSIZED_BYTES.saturating_sub(body.len() as u64);
            build(
                StatusCode::OK,
                reply.content_type,
                ReplyBody::Padded {
                    head: Some(body),
                    filler,
                    remaining,
                },
            )
        }
        _ => finish(Reply { body, ..reply }),
    }
}

/// Response bodies: whole, cut by a connection reset, or padded to a large size.
pub(crate) enum ReplyBody {
    Full(Option<Bytes>),
    ResetAfter {
        first: Option<Bytes>,
        /// A short pause after the first part, so that hyper flushes it before the reset.
        pause: Option<Pin<Box<tokio::time::Sleep>>>,
        total: u64,
    },
    Padded {
        head: Option<Bytes>,
        filler: Bytes,
        remaining: u64,
    },
}

/// The error that cuts a [`ReplyBody::ResetAfter`] body.
#[derive(Debug)]
pub(crate) struct BodyReset;

impl fmt::Display for BodyReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("response body reset by an injected fault")
    }
}

impl std::error::Error for BodyReset {}

impl Body for ReplyBody {
    type Data = Bytes;
    type Error = BodyReset;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyReset>>> {
        match self.get_mut() {
            ReplyBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ReplyBody::ResetAfter { first, pause, .. } => {
                if let Some(b) = first.take() {
                    *pause = Some(Box::pin(tokio::time::sleep(Duration::from_millis(20))));
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                if let Some(p) = pause.as_mut()
                    && p.as_mut().poll(cx).is_pending()
                {
                    return Poll::Pending;
                }
                Poll::Ready(Some(Err(BodyReset)))
            }
            ReplyBody::Padded {
                head,
                filler,
                remaining,
            } => {
                if let Some(b) = head.take() {
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                if *remaining == 0 {
                    return Poll::Ready(None);
                }
                let n = (*remaining).min(filler.len() as u64);
                *remaining -= n;
                let n = usize::try_from(n).unwrap_or(filler.len());
                Poll::Ready(Some(Ok(Frame::data(filler.slice(..n)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReplyBody::Full(b) => b.is_none(),
            ReplyBody::ResetAfter { .. } => false,
            ReplyBody::Padded { head, remaining, .. } => head.is_none() && *remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReplyBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            ReplyBody::ResetAfter { total, .. } => SizeHint::with_exact(*total),
            ReplyBody::Padded { head, remaining, .. } => {
                SizeHint::with_exact(head.as_ref().map_or(0, |b| b.len() as u64) + remaining)
            }
        }
    }
}
