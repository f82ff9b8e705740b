//! OpenTelemetry export (the `otel` feature): the gateway's `tracing` spans (one `request` span per
//! HTTP request with its request id, method and route, and whatever runs inside it) go to an OTLP
//! collector over HTTP/protobuf, batched on a background thread.
//!
//! The collector is `gateway.otlp_endpoint` (a base URL: spans go to `{endpoint}/v1/traces`), else
//! the standard `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (as is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (plus
//! `/v1/traces`); with none of them nothing is exported. `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_EXPORTER_OTLP_TIMEOUT` and `OTEL_SERVICE_NAME` (default `sms-gateway`) are honoured.
//!
//! Requests go through the gateway's own reqwest client, run on the Tokio runtime that installed
//! the exporter (the batch thread waits for them), so no second HTTP or TLS stack is built in.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_subscriber::registry::LookupSpan;

/// The largest answer read from the collector (it answers with a small status message).
const MAX_ANSWER: usize = 64 * 1024;

/// Where spans go: `endpoint` (the `gateway.otlp_endpoint` of the config) or the standard
/// environment variables; `None` when neither names a collector.
pub fn traces_endpoint(endpoint: Option<&str>) -> Option<String> {
    if let Some(base) = endpoint.filter(|e| !e.trim().is_empty()) {
        return Some(format!("{}/v1/traces", base.trim().trim_end_matches('/')));
    }
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| {
        set("OTEL_EXPORTER_OTLP_ENDPOINT")
            .map(|base| format!("{}/v1/traces", base.trim().trim_end_matches('/')))
    })
}

/// The installed exporter. [`Telemetry::shutdown`] sends what is still buffered; dropping it
/// without does not.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
    endpoint: String,
}

impl Telemetry {
    /// An exporter to `endpoint` (the full traces URL, see [`traces_endpoint`]) and the `tracing`
    /// layer that feeds it. Call it inside the Tokio runtime that serves the gateway.
    ///
    /// # Errors
    /// A message when there is no Tokio runtime, the URL is not a URL, or no HTTP client can be
    /// built.
    pub fn layer<S>(
        endpoint: &str,
    ) -> Result<(tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>, Self), String>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "OpenTelemetry export needs a Tokio runtime".to_owned())?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the OTLP HTTP client: {e}"))?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(OnRuntime { client, runtime })
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| format!("OTLP endpoint {endpoint:?}: {e}"))?;
        let name = std::env::var("OTEL_SERVICE_NAME")
            .ok()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "sms-gateway".to_owned());
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name(name).build())
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("sms-gateway"));
        Ok((
            layer,
            Self {
                provider,
                endpoint: endpoint.to_owned(),
            },
        ))
    }

    /// Where spans go.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Exports every span still buffered, then stops (on a blocking thread: the export's requests
    /// run on this runtime meanwhile).
    pub async fn shutdown(self) {
        let provider = self.provider;
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "OpenTelemetry export did not finish"),
            Err(error) => tracing::warn!(%error, "OpenTelemetry export did not finish"),
        }
    }
}

/// The OTLP exporter's HTTP client: reqwest on the gateway's runtime. The SDK's batch thread has
/// no runtime of its own, so each request is spawned onto ours and awaited from there.
#[derive(Debug)]
struct OnRuntime {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for OnRuntime {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let exchange = async move {
            let response = client.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = read_limited(response).await?;
            let mut answer = Response::builder().status(status);
            if let Some(h) = answer.headers_mut() {
                *h = headers;
            }
            Ok::<_, HttpError>(answer.body(body)?)
        };
        self.runtime.spawn(exchange).await?
    }
}

async fn read_limited(mut response: reqwest::Response) -> Result<Bytes, HttpError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err("the collector's answer is too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}
