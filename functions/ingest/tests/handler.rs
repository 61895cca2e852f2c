//! The handler driven by the sample event of `events/`, on the local backend and on moto.

use std::path::PathBuf;

use aws_lambda_events::event::s3::S3Event;
use chrono::{DateTime, Duration, Utc};
use ingest::{CatalogueCache, Config, HandlerError, Summary, handle};
use medistock_analytics::catalogue::{Catalogue, Presentation, save_catalogue_object};
use medistock_domain::Cip13;
use medistock_domain::store::{FileLedger, ObjectStore, PositionStore};
use medistock_local::{LocalObjects, LocalState};

const DECLARATION: &str = "cip13;date_stock;stock;sorties\n3400949497294;2026-11-20;1500;140\n3400949497706;2026-11-20;40;7\n";
const KEY: &str = "inbox/grossiste-a/stocks semaine 47 dépôt + réserve.csv";

fn sample_event(bucket: &str) -> S3Event {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events/ingest-s3-put.json");
    let mut event: S3Event = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    event.records[0].s3.bucket.name = Some(bucket.to_owned());
    event
}

fn now() -> DateTime<Utc> {
    "2026-11-23T08:31:13Z".parse().unwrap()
}

fn config(lake: &str) -> Config {
    Config {
        lake_bucket: lake.into(),
        table_name: "unused".into(),
        max_file_mb: 200,
    }
}

/// The declaration dropped under [`KEY`] in `inbox`.
async fn drop_declaration(objects: &impl ObjectStore, inbox: &str) {
    objects
        .put(
            inbox,
            KEY,
            DECLARATION.as_bytes().to_vec(),
            "text/csv",
            &Default::default(),
        )
        .await
        .unwrap();
}

async fn drives_the_handler(
    objects: &impl ObjectStore,
    state: &(impl FileLedger + PositionStore),
    inbox: &str,
    lake: &str,
) {
    drop_declaration(objects, inbox).await;
    // The lake's catalogue knows the first reference only: the second gets the warning.
    let mut catalogue = Catalogue::default();
    let known = Cip13::parse("3400949497294").unwrap();
    catalogue.presentations.insert(
        known,
        Presentation {
            cip13: known,
            cis: "60001".into(),
            label: "boîte de 30".into(),
            marketed: true,
            shortage: None,
        },
    );
    save_catalogue_object(objects, lake, &catalogue)
        .await
        .unwrap();
    let cache = CatalogueCache::default();
    let deadline = now() + Duration::minutes(5);
    let summary = handle(
        objects,
        state,
        &config(lake),
        &cache,
        sample_event(inbox),
        now(),
        deadline,
    )
    .await
    .unwrap();
    assert_eq!(
        summary,
        Summary {
            records: 1,
            applied: 1,
            ..Summary::default()
        }
    );
    let positions = state
        .positions(&Cip13::parse("3400949497294").unwrap())
        .await
        .unwrap();
    assert_eq!(
        (
            positions.len(),
            positions[0].stock,
            positions[0].daily_outflow
        ),
        (1, 1500, Some(20.0))
    );
    let receipt = objects
        .get(
            inbox,
            &format!(
                "receipts/grossiste-a/{}.accuse.txt",
                KEY.rsplit('/').next().unwrap()
            ),
        )
        .await
        .unwrap();
    let receipt = String::from_utf8(
        receipt
            .expect("the receipt is written under the decoded name")
            .bytes,
    )
    .unwrap();
    assert!(
        receipt.contains("[hors_catalogue]") && receipt.contains("3400949497706"),
        "the catalogue of the lake reaches validation: {receipt}"
    );
    assert_eq!(receipt.matches("[hors_catalogue]").count(), 1, "{receipt}");

    // S3 delivers at least once: the same event again changes nothing.
    let again = handle(
        objects,
        state,
        &config(lake),
        &cache,
        sample_event(inbox),
        now(),
        deadline,
    )
    .await
    .unwrap();
    assert_eq!(
        again,
        Summary {
            records: 1,
            duplicates: 1,
            ..Summary::default()
        }
    );

    // Other event types are ignored.
    let mut removed = sample_event(inbox);
    removed.records[0].event_name = Some("ObjectRemoved:Delete".into());
    let ignored = handle(
        objects,
        state,
        &config(lake),
        &cache,
        removed,
        now(),
        deadline,
    )
    .await
    .unwrap();
    assert_eq!(
        ignored,
        Summary {
            records: 1,
            ignored: 1,
            ..Summary::default()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_event_on_the_local_backend() {
    let dir = tempfile::tempdir().unwrap();
    let state = LocalState::open(&dir.path().join("state.sqlite")).unwrap();
    drives_the_handler(&LocalObjects::new(dir.path()), &state, "depot", "lac").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sample_event_on_moto() {
    use medistock_aws::{DynamoState, S3Objects, s3_client, sdk_config};

    let Some(endpoint) = medistock_testkit::emulator() else {
        return;
    };
    // The same construction as `main`, from the environment scripts/test.sh exports.
    assert_eq!(
        std::env::var("AWS_ENDPOINT_URL").ok().as_deref(),
        Some(endpoint.as_str())
    );
    let sdk = sdk_config().await;
    let s3 = s3_client(&sdk);
    let id = std::process::id();
    let (inbox, lake, table) = (
        format!("inbox-{id}"),
        format!("lake-{id}"),
        format!("state-{id}"),
    );
    for bucket in [&inbox, &lake] {
        medistock_testkit::aws::create_bucket(&s3, bucket)
            .await
            .unwrap();
    }
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    medistock_testkit::aws::create_state_table(&dynamo, &table)
        .await
        .unwrap();
    let state = DynamoState::new(dynamo, table.as_str());
    let objects = S3Objects::new(s3);
    drives_the_handler(&objects, &state, &inbox, &lake).await;
    let sha = medistock_domain::sha256_hex(DECLARATION.as_bytes());
    assert_eq!(
        objects.list(&lake, "").await.unwrap(),
        [
            "catalogue/catalogue.json".to_owned(),
            format!("daily/as_of=2026-11-20/declarant=grossiste-a/{sha}.parquet"),
            format!("normalized/as_of=2026-11-20/declarant=grossiste-a/{sha}.parquet"),
            format!("raw/grossiste-a/2026/11/23/{sha}.csv"),
        ]
    );
    let archived = objects
        .get(&lake, &format!("raw/grossiste-a/2026/11/23/{sha}.csv"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(archived.bytes, DECLARATION.as_bytes());
    let ledger = state.file("grossiste-a", &sha).await.unwrap().unwrap();
    assert_eq!(
        (ledger.status, ledger.lines, ledger.key.as_str()),
        (medistock_domain::store::FileStatus::Applied, [2, 2, 0], KEY)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infrastructure_error_fails_the_invocation_after_trying_every_record() {
    let dir = tempfile::tempdir().unwrap();
    // Object storage that cannot be read: its root is a file, not a folder.
    let root = dir.path().join("pas-un-dossier");
    std::fs::write(&root, b"").unwrap();
    let state = LocalState::in_memory().unwrap();
    let mut event = sample_event("depot");
    event.records.push(event.records[0].clone());
    let result = handle(
        &LocalObjects::new(&root),
        &state,
        &config("lac"),
        &CatalogueCache::holding(None),
        event,
        now(),
        now() + Duration::minutes(5),
    )
    .await;
    let Err(error) = result else {
        panic!("{result:?}")
    };
    assert!(
        matches!(
            error,
            HandlerError::Ingest(medistock_analytics::ingest::IngestError::Store(_))
        ),
        "{error:?}"
    );
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "Medistock.Retryable.Storage");

    // A catalogue that cannot be read never stops a drop: the records are still tried (and
    // fail here on the unreadable inbox, retryably), not refused for the catalogue's sake.
    let result = handle(
        &LocalObjects::new(&root),
        &state,
        &config("lac"),
        &CatalogueCache::default(),
        sample_event("depot"),
        now(),
        now() + Duration::minutes(5),
    )
    .await;
    assert!(
        matches!(
            result,
            Err(HandlerError::Ingest(
                medistock_analytics::ingest::IngestError::Store(_)
            ))
        ),
        "{result:?}"
    );
}

/// A run killed outright (a timeout, memory exhausted) leaves its claim until a minute after
/// its deadline: Lambda's two quick retries meet it and fail, retryably; the record of the
/// invocation given up on comes back from the retry queue after its delay, the claim lapsed,
/// and the file is applied, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_given_up_on_after_a_killed_run_is_applied_from_the_retry_queue() {
    use medistock_domain::store::{Claim, FileStatus, LedgerEntry, lease_token};
    let dir = tempfile::tempdir().unwrap();
    let objects = LocalObjects::new(dir.path());
    let state = LocalState::open(&dir.path().join("state.sqlite")).unwrap();
    drop_declaration(&objects, "depot").await;
    // The killed run: started at now(), its deadline five minutes later, its memory
    // exhausted half a minute in.
    let sha = medistock_domain::sha256_hex(DECLARATION.as_bytes());
    let killed = LedgerEntry {
        sha256: sha.clone(),
        status: FileStatus::Processing,
        key: KEY.into(),
        version: None,
        declarant: "grossiste-a".into(),
        owner: lease_token(),
        lines: [0; 3],
        received_at: now(),
        lease_until: now() + Duration::minutes(6),
        finished_at: None,
    };
    assert_eq!(state.claim_file(&killed).await.unwrap(), Claim::Acquired);
    let cache = CatalogueCache::holding(None);
    let run = |at: DateTime<Utc>, event: aws_lambda_events::event::s3::S3Event| {
        let (objects, state, cache) = (&objects, &state, &cache);
        async move {
            handle(
                objects,
                state,
                &config("lac"),
                cache,
                event,
                at,
                at + Duration::minutes(5),
            )
            .await
        }
    };
    // Lambda's retries, a minute after the failure and two minutes after the first: the
    // claim still holds.
    for seconds in [90, 210] {
        let err = run(now() + Duration::seconds(seconds), sample_event("depot"))
            .await
            .unwrap_err();
        assert_eq!(
            lambda_runtime::Diagnostic::from(err).error_type,
            "Medistock.Retryable.InProgress"
        );
    }
    // The record Lambda sends to the retry queue, delivered back ten minutes later: the
    // claim has lapsed.
    let given_up = serde_json::json!({
        "version": "1.0",
        "timestamp": "2026-11-23T08:40:00.000Z",
        "requestContext": {
            "requestId": "e4b0c2a1",
            "functionArn": "arn:aws:lambda:eu-west-3:123456789012:function:medistock-dev-ingest:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3
        },
        "requestPayload": sample_event("depot"),
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "Medistock.Retryable.InProgress", "errorMessage": "…"}
    });
    let message = serde_json::json!({"Records": [{
        "messageId": "m-1",
        "receiptHandle": "r",
        "body": given_up.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-3:123456789012:medistock-dev-ingest-retries",
        "awsRegion": "eu-west-3"
    }]});
    let redriven = ingest::invocation(message.clone()).unwrap();
    assert!(matches!(redriven, ingest::Invocation::Redriven(_)));
    let summary = run(now() + Duration::minutes(14), redriven.into_event())
        .await
        .unwrap();
    assert_eq!((summary.records, summary.applied), (1, 1), "{summary:?}");
    let ledger = state.file("grossiste-a", &sha).await.unwrap().unwrap();
    assert_eq!(ledger.status, FileStatus::Applied);
    // The queue delivers at least once too: the same message again applies nothing.
    let again = run(
        now() + Duration::minutes(15),
        ingest::invocation(message.clone()).unwrap().into_event(),
    )
    .await
    .unwrap();
    assert_eq!((again.applied, again.duplicates), (0, 1));
    // A message that holds no S3 event fails its invocation as poison, named: it goes back to
    // the queue, then to the last one.
    let mut unreadable = message;
    unreadable["Records"][0]["body"] = "{\"requestPayload\": 42}".into();
    let err = HandlerError::from(ingest::invocation(unreadable).unwrap_err());
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "Medistock.Poison.Event");
    assert!(
        diagnostic.error_message.contains("m-1"),
        "{}",
        diagnostic.error_message
    );
}

#[test]
fn configuration_names_the_missing_variable() {
    let err =
        Config::from_env(|name| (name == "LAKE_BUCKET").then(|| "lac".to_owned())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "variable d'environnement TABLE_NAME absente"
    );
    let ok = Config::from_env(|name| {
        Some(if name == "MAX_FILE_MB" {
            "50".into()
        } else {
            "x".into()
        })
    })
    .unwrap();
    assert_eq!(ok.max_file_mb, 50);
}
