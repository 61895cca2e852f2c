//! DynamoDB throttling, for real: a small HTTP proxy between the SDK and moto answers the first
//! `PutItem` calls with `ThrottlingException` (HTTP 400, as DynamoDB does); the SDK's retries
//! with backoff must absorb them and the ingest must end in the exact state of a clean run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Duration, Utc};
use medistock_analytics::declaration::Limits;
use medistock_analytics::ingest::{IngestOutcome, IngestSettings, ingest_object};
use medistock_aws::{DynamoState, S3Objects};
use medistock_domain::Cip13;
use medistock_domain::store::{ObjectStore, PositionStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const THROTTLE_BODY: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#;

/// Reads one HTTP/1.1 message (headers, then a Content-Length or chunked body).
async fn read_message(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Vec<u8>>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let body_start = end + 4;
            let total = if head.contains("transfer-encoding: chunked") {
                buf[body_start..]
                    .windows(5)
                    .position(|w| {
                        w == b"0

"
                    })
                    .map(|p| body_start + p + 5)
            } else {
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                (buf.len() >= body_start + length).then_some(body_start + length)
            };
            if let Some(total) = total {
                return Ok(Some(buf.drain(..total).collect()));
            }
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Starts the proxy; returns its address and the number of requests it throttled.
async fn throttling_proxy(upstream: String, throttle_first: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let throttled = Arc::new(AtomicUsize::new(0));
    let count = throttled.clone();
    let upstream = upstream.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let mut server = TcpStream::connect(&upstream).await.expect("moto");
                let (mut from_client, mut from_server) = (Vec::new(), Vec::new());
                while let Ok(Some(request)) = read_message(&mut client, &mut from_client).await {
                    let head = String::from_utf8_lossy(&request).to_ascii_lowercase();
                    let is_put_item = head.contains("x-amz-target: dynamodb_20120810.putitem");
                    if is_put_item && count.load(Ordering::SeqCst) < throttle_first {
                        count.fetch_add(1, Ordering::SeqCst);
                        let response = format!(
                            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: throttled\r\nContent-Length: {}\r\n\r\n{THROTTLE_BODY}",
                            THROTTLE_BODY.len()
                        );
                        if client.write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    if server.write_all(&request).await.is_err() {
                        return;
                    }
                    match read_message(&mut server, &mut from_server).await {
                        Ok(Some(response)) => {
                            if client.write_all(&response).await.is_err() {
                                return;
                            }
                        }
                        _ => return,
                    }
                }
            });
        }
    });
    (address, throttled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_writes_are_retried_by_the_sdk_until_applied() {
    let Some(endpoint) = medistock_testkit::emulator() else {
        return;
    };
    let direct = medistock_testkit::aws::config(&endpoint).await;
    let (inbox, lake, table) = (
        medistock_testkit::unique("depot"),
        medistock_testkit::unique("lac"),
        medistock_testkit::unique("etat"),
    );
    let s3 = medistock_testkit::aws::bucket(&direct, &inbox).await;
    medistock_testkit::aws::bucket(&direct, &lake).await;
    medistock_testkit::aws::table(&direct, &table).await;

    let (proxy, throttled) = throttling_proxy(endpoint.clone(), 4).await;
    let through_proxy = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&proxy)
        .region(aws_config::Region::new("eu-west-3"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(medistock_aws::MAX_ATTEMPTS)
                .with_initial_backoff(std::time::Duration::from_millis(20)),
        )
        .load()
        .await;
    let state = DynamoState::new(
        aws_sdk_dynamodb::Client::new(&through_proxy),
        table.as_str(),
    );
    let objects = S3Objects::new(s3);

    let key = "inbox/grossiste-a/s47.csv";
    let text =
        "cip13;date_stock;stock\n3400949497294;2026-11-20;1500\n3400949497706;2026-11-20;40\n";
    objects
        .put(
            &inbox,
            key,
            text.as_bytes().to_vec(),
            "text/csv",
            &Default::default(),
        )
        .await
        .unwrap();
    let settings = IngestSettings {
        lake_bucket: lake,
        limits: Limits::default(),
        lease: Duration::minutes(5),
        catalogue: None,
    };
    let now = "2026-11-23T09:30:00Z"
        .parse::<chrono::DateTime<Utc>>()
        .unwrap();
    let outcome = ingest_object(&objects, &state, &settings, &inbox, key, now)
        .await
        .unwrap();
    let IngestOutcome::Applied { summary, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(summary.applied, 2);
    assert_eq!(
        throttled.load(Ordering::SeqCst),
        4,
        "the proxy throttled the first four PutItem calls"
    );
    for (reference, stock) in [("3400949497294", 1500), ("3400949497706", 40)] {
        let positions = state
            .positions(&Cip13::parse(reference).unwrap())
            .await
            .unwrap();
        assert_eq!(
            positions.iter().map(|p| p.stock).collect::<Vec<_>>(),
            [stock]
        );
    }
}
