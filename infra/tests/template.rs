//! The SAM template against the code: every function crate has its resource, each function
//! gets exactly the variables it reads, policies name no wildcard resource, the ingest role
//! has the S3 rights its reads and copies need, the SFTP gateway asks the identity provider,
//! the declarants' role allows everything the session policy grants (the two intersect), and
//! every function and failure queue has its alarms.
//! (cfn-lint checks the template itself in `scripts/test.sh`.)

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> String {
    std::fs::read_to_string(root().join("infra/template.yaml")).unwrap()
}

/// The lines of the resource `name` (from its line to the next resource at the same indent).
fn resource<'t>(template: &'t str, name: &str) -> Vec<&'t str> {
    let header = format!("  {name}:");
    let mut lines = template.lines().skip_while(|l| *l != header);
    let first = lines.next().unwrap_or_else(|| panic!("no resource {name}"));
    std::iter::once(first)
        .chain(lines.take_while(|l| {
            l.is_empty() || l.starts_with("    ") || l.trim_start().starts_with('#')
        }))
        .collect()
}

/// The keys of the map under `key:` in `lines`, one indent level deeper.
fn map_keys(lines: &[&str], key: &str) -> Vec<String> {
    let start = lines
        .iter()
        .position(|l| l.trim() == format!("{key}:"))
        .unwrap_or_else(|| panic!("no {key}"));
    let indent = lines[start].len() - lines[start].trim_start().len();
    lines[start + 1..]
        .iter()
        .take_while(|l| l.len() - l.trim_start().len() > indent)
        .filter(|l| l.len() - l.trim_start().len() == indent + 2)
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.to_owned()))
        .collect()
}

/// One statement of an inline policy as the template writes it: `- Sid:` starts it, then
/// `Action: [..]`, `Resource:` (one value or a `- ` list) and an optional `"s3:prefix": [..]`.
#[derive(Debug, Default)]
struct Statement {
    sid: String,
    actions: Vec<String>,
    resources: Vec<String>,
    prefixes: Vec<String>,
}

/// `["a", "b"]` or `a` as a list.
fn flow_list(text: &str) -> Vec<String> {
    text.trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|v| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// The statements of the policies in `lines` (after its `Policies:` line).
fn statements(lines: &[&str]) -> Vec<Statement> {
    let mut out: Vec<Statement> = Vec::new();
    let mut resource_list = false;
    for line in lines.iter().skip_while(|l| l.trim() != "Policies:") {
        let t = line.trim();
        if let Some(sid) = t.strip_prefix("- Sid: ") {
            out.push(Statement {
                sid: sid.to_owned(),
                ..Statement::default()
            });
            resource_list = false;
            continue;
        }
        let Some(s) = out.last_mut() else { continue };
        if resource_list && let Some(r) = t.strip_prefix("- ") {
            s.resources.push(r.to_owned());
            continue;
        }
        resource_list = t == "Resource:";
        if let Some(a) = t.strip_prefix("Action: ") {
            s.actions = flow_list(a);
        } else if let Some(r) = t.strip_prefix("Resource: ") {
            s.resources.push(r.to_owned());
        } else if let Some(p) = t.strip_prefix("\"s3:prefix\": ") {
            s.prefixes = flow_list(p);
        }
    }
    out
}

/// The template's functions.
const FUNCTIONS: [&str; 5] = [
    "IngestFunction",
    "RiskFunction",
    "NotifyFunction",
    "ReportFunction",
    "SftpAuthFunction",
];

const ACCOUNT: &str = "123456789012";
const KEY_ARN: &str = "arn:aws:kms:eu-west-3:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
const INBOX: &str = "arn:aws:s3:::medistock-inbox-dev-123456789012";
const LAKE: &str = "arn:aws:s3:::medistock-lake-dev-123456789012";

/// A template value as deployed in `dev`, partition `aws`, account [`ACCOUNT`].
fn resolve(value: &str) -> String {
    let value = value.trim();
    match value {
        "!GetAtt DataKey.Arn" => return KEY_ARN.to_owned(),
        "!GetAtt LakeBucket.Arn" => return LAKE.to_owned(),
        "!GetAtt InboxBucket.Arn" => return INBOX.to_owned(),
        "!GetAtt SftpUserRole.Arn" => {
            return format!("arn:aws:iam::{ACCOUNT}:role/medistock-dev-sftp-declarants");
        }
        _ => {}
    }
    value
        .trim_start_matches("!Sub ")
        .trim_matches('"')
        .replace("${AWS::Partition}", "aws")
        .replace("${Environment}", "dev")
        .replace("${AWS::AccountId}", ACCOUNT)
        .replace("${LakeBucket.Arn}", LAKE)
        .replace("${InboxBucket.Arn}", INBOX)
}

/// `text` matches `pattern` with `*` wildcards. A pattern also matches a narrower pattern
/// written the same way (`inbox/*` matches `inbox/lab-a/*`).
fn like(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|i| like(tail, &text[head.len() + i..]))
        }
    }
}

/// Whether the statements (all `Allow`) allow `action` on `resource`, with `prefix` as the
/// request's `s3:prefix` when a statement has that condition; no statement: implicit deny.
fn allows(statements: &[Statement], action: &str, resource: &str, prefix: Option<&str>) -> bool {
    statements.iter().any(|s| {
        s.actions.iter().any(|a| like(a, action))
            && s.resources.iter().any(|r| like(&resolve(r), resource))
            && (s.prefixes.is_empty()
                || prefix.is_some_and(|p| s.prefixes.iter().any(|pat| like(pat, p))))
    })
}

#[test]
fn every_function_crate_has_a_resource_and_back() {
    let template = template();
    let mut crates: Vec<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    crates.sort();
    let mut binaries: Vec<String> = template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Binary: "))
        .map(str::to_owned)
        .collect();
    binaries.sort();
    assert_eq!(crates, binaries);
}

#[test]
fn each_function_gets_exactly_the_variables_it_reads() {
    let template = template();
    let read: [(&str, &[&str], bool); 5] = [
        ("IngestFunction", &ingest::ENV_VARS, true),
        ("RiskFunction", &risk::ENV_VARS, true),
        ("NotifyFunction", &notify::ENV_VARS, false),
        ("ReportFunction", &report::ENV_VARS, true),
        ("SftpAuthFunction", &sftp_auth::ENV_VARS, false),
    ];
    for (name, vars, polars) in read {
        let function = resource(&template, name);
        let mut expected: Vec<String> = vars.iter().map(|v| v.to_string()).collect();
        if polars {
            expected.push("POLARS_MAX_THREADS".into());
        }
        expected.sort();
        let mut set = map_keys(&function, "Variables");
        set.sort();
        assert_eq!(set, expected, "{name}");
        assert!(
            function
                .iter()
                .any(|l| l.trim() == "BuildMethod: rust-cargolambda"),
            "{name}"
        );
    }
    for line in [
        "Runtime: provided.al2023",
        "Architectures: [arm64]",
        "Handler: bootstrap",
    ] {
        assert!(template.contains(line), "{line}");
    }
}

#[test]
fn policies_are_scoped_to_named_resources() {
    let template = template();
    for name in FUNCTIONS {
        let function = resource(&template, name);
        let policies: Vec<&str> = function
            .iter()
            .skip_while(|l| l.trim() != "Policies:")
            .copied()
            .collect();
        assert!(!policies.is_empty(), "{name}");
        for line in &policies {
            assert!(
                !line.contains("Resource: \"*\"") && !line.contains("Resource: '*'"),
                "{name}: wildcard: {line}"
            );
            assert!(
                !line.contains("dynamodb:*") && !line.contains("s3:*"),
                "{name}: {line}"
            );
        }
        // Objects of the inbox bucket only under inbox/ or receipts/; the bucket itself only
        // to list, and only under a prefix.
        for s in statements(&function) {
            for r in s.resources.iter().filter(|r| r.contains("s3:::")) {
                let object_scope = r.contains("/inbox/*") || r.contains("/receipts/*");
                let listing = s.actions == ["s3:ListBucket"] && !s.prefixes.is_empty();
                assert!(object_scope || listing, "{name} {}: unscoped {r}", s.sid);
            }
        }
    }
    let ingest = resource(&template, "IngestFunction");
    assert!(ingest.iter().any(|l| l.contains("${LakeBucket.Arn}/raw/*")));
    assert!(
        !ingest.iter().any(|l| l.contains("dynamodb:Scan")),
        "ingest never scans"
    );
    let mapping = resource(&template, "NotifyOutboxMapping");
    assert!(
        mapping
            .iter()
            .any(|l| l.contains("ReportBatchItemFailures")),
        "partial batch responses"
    );
}

/// The types of the events of a function (`Events:`, each event's `Type:`).
fn event_types(function: &[&str]) -> Vec<String> {
    let Some(start) = function.iter().position(|l| l.trim() == "Events:") else {
        return Vec::new();
    };
    let indent = function[start].len() - function[start].trim_start().len();
    function[start + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
        .filter(|l| l.len() - l.trim_start().len() == indent + 4)
        .filter_map(|l| l.trim().strip_prefix("Type: ").map(str::to_owned))
        .collect()
}

/// A stream or a queue read by a function is an event source mapping of its own, its rights
/// in the function's statements: as an event of the function, SAM would attach an AWS managed
/// policy over every stream or queue of the account (`AWSLambdaDynamoDBExecutionRole`,
/// `AWSLambdaSQSQueueExecutionRole`).
#[test]
fn no_function_reads_a_stream_or_a_queue_through_a_managed_policy() {
    let template = template();
    for name in FUNCTIONS {
        let function = resource(&template, name);
        let types = event_types(&function);
        assert!(
            types
                .iter()
                .all(|t| ["S3", "ScheduleV2", "Schedule"].contains(&t.as_str())),
            "{name}: {types:?}"
        );
        assert!(
            !function.iter().any(|l| {
                l.contains("ManagedPolicyArns")
                    || l.contains("arn:aws:iam::aws:policy")
                    || l.trim().starts_with("- AWSLambda")
            }),
            "{name}"
        );
    }
    assert_eq!(
        event_types(&resource(&template, "NotifyFunction")),
        ["ScheduleV2"]
    );
    assert_eq!(event_types(&resource(&template, "IngestFunction")), ["S3"]);
    let notify = statements(&resource(&template, "NotifyFunction"));
    const STREAM_READS: [&str; 4] = [
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
    ];
    let stream: Vec<_> = notify
        .iter()
        .filter(|s| s.actions.iter().any(|a| STREAM_READS.contains(&a.as_str())))
        .collect();
    for action in STREAM_READS {
        assert!(
            stream.iter().any(|s| s.actions.iter().any(|a| a == action)),
            "{action}"
        );
    }
    for s in &stream {
        assert!(
            s.resources
                .iter()
                .all(|r| r == "!GetAtt StateTable.StreamArn"
                    || r == "!Sub \"${StateTable.Arn}/stream/*\""),
            "{}: {:?}",
            s.sid,
            s.resources
        );
    }
    // On unless a one-deploy upgrade turns it off (docs/deploy.md).
    assert!(
        template
            .lines()
            .any(|l| l == "  ReadsOutboxStream: !Equals [!Ref OutboxStreamMapping, \"oui\"]")
    );
    // Given at every deploy: a parameter left out keeps the stack's previous value, and the
    // upgrade's first deploy sets it to "non".
    let samconfig = std::fs::read_to_string(root().join("samconfig.toml")).unwrap();
    let overrides: Vec<&str> = samconfig
        .lines()
        .filter(|l| l.starts_with("parameter_overrides = "))
        .collect();
    assert_eq!(overrides.len(), 2, "{overrides:?}");
    for line in overrides {
        assert!(line.contains(" OutboxStreamMapping=oui\""), "{line}");
    }
    let parameter = resource(&template, "OutboxStreamMapping");
    assert!(parameter.iter().any(|l| l.trim() == "Default: \"oui\""));
    let mapping = resource(&template, "NotifyOutboxMapping");
    assert!(
        mapping
            .iter()
            .any(|l| l.trim() == "Condition: ReadsOutboxStream")
    );
    assert!(
        mapping
            .iter()
            .any(|l| l.trim() == "EventSourceArn: !GetAtt StateTable.StreamArn")
    );
    assert!(
        mapping
            .iter()
            .any(|l| l.trim() == "FunctionName: !Ref NotifyFunction")
    );
    assert!(
        mapping
            .iter()
            .any(|l| l.trim() == "Destination: !GetAtt NotifyFailures.Arn")
    );
}

#[test]
fn the_sftp_gateway_asks_the_identity_provider_and_its_role_stays_in_the_inbox_bucket() {
    let template = template();
    let server = resource(&template, "SftpServer");
    for line in [
        "IdentityProviderType: AWS_LAMBDA",
        "Function: !GetAtt SftpAuthFunction.Arn",
        "SftpAuthenticationMethods: PUBLIC_KEY",
        "Protocols: [SFTP]",
    ] {
        assert!(server.iter().any(|l| l.trim() == line), "{line}");
    }
    let role = resource(&template, "SftpUserRole");
    // Only Transfer on behalf of this account's resources may assume it.
    // Each under its operator: a wildcard under StringEquals would be literal and refuse
    // every login.
    for (operator, line) in [
        (
            "StringEquals:",
            "\"aws:SourceAccount\": !Ref AWS::AccountId",
        ),
        (
            "ArnLike:",
            "\"aws:SourceArn\": !Sub \"arn:${AWS::Partition}:transfer:${AWS::Region}:${AWS::AccountId}:*\"",
        ),
    ] {
        assert!(
            role.windows(2)
                .any(|w| w[0].trim() == operator && w[1].trim() == line),
            "{operator} {line}"
        );
    }
    let resources: Vec<&&str> = role
        .iter()
        .filter(|l| l.contains("arn:${AWS::Partition}:s3:::"))
        .collect();
    assert_eq!(resources.len(), 4, "{resources:?}");
    for line in resources {
        assert!(
            line.contains("medistock-inbox-${Environment}-${AWS::AccountId}"),
            "{line}"
        );
    }
    let auth = resource(&template, "SftpAuthFunction");
    assert!(
        auth.iter().any(|l| l.contains("dynamodb:GetItem"))
            && !auth.iter().any(|l| l.contains("dynamodb:PutItem")),
        "the identity provider only reads"
    );
}

/// A burst of uploads cannot take the account's concurrency from the logins, the alerts'
/// schedule and the risk run: the ingest is capped, the identity provider keeps a share.
#[test]
fn the_ingest_is_capped_and_the_logins_keep_their_share() {
    let template = template();
    let reserved = |name: &str| {
        resource(&template, name)
            .iter()
            .find_map(|l| l.trim().strip_prefix("ReservedConcurrentExecutions: "))
            .map(str::to_owned)
    };
    assert_eq!(
        reserved("IngestFunction").as_deref(),
        Some("!Ref IngestConcurrency")
    );
    let logins: u32 = reserved("SftpAuthFunction").unwrap().parse().unwrap();
    assert!(logins >= 1);
    for scheduled in ["RiskFunction", "ReportFunction"] {
        assert_eq!(reserved(scheduled).as_deref(), Some("1"), "{scheduled}");
    }
}

/// The largest file a deployment may accept fits the ingest function's memory: its peak is
/// about 3.3 times the file (measured on a national CSV), and a Windows-1252 or UTF-16 file
/// holds its decoded text (up to the same bound) beside its bytes; five times the bound is
/// kept under the memory.
#[test]
fn the_largest_file_allowed_fits_the_ingest_function() {
    let template = template();
    let value = |lines: &[&str], key: &str| -> u64 {
        lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key}"))
            .trim()
            .parse()
            .unwrap()
    };
    let largest = value(&resource(&template, "MaxFileMb"), "MaxValue:");
    let default = value(&resource(&template, "MaxFileMb"), "Default:");
    let memory = value(&resource(&template, "IngestFunction"), "MemorySize:");
    assert!(default <= largest);
    assert!(
        5 * largest <= memory,
        "MaxFileMb up to {largest} MB, ingest memory {memory} MB"
    );
}

#[test]
fn every_function_and_failure_queue_has_an_alarm() {
    let template = template();
    // The ingest is throttled by design (capped): its alarm is on how long a drop waits.
    for function in ["Ingest", "Risk", "Notify", "Report", "SftpAuth"] {
        let waiting = if function == "Ingest" {
            "BacklogAlarm"
        } else {
            "ThrottlesAlarm"
        };
        for alarm in ["ErrorsAlarm", waiting] {
            let lines = resource(&template, &format!("{function}{alarm}"));
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains(&format!("!Ref {function}Function"))),
                "{function}{alarm}"
            );
            assert!(lines.iter().any(|l| l.contains("!Ref OpsTopic")));
        }
    }
    for queue in ["Ingest", "Notify"] {
        let lines = resource(&template, &format!("{queue}FailuresAlarm"));
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("{queue}Failures.QueueName")))
        );
    }
    let missing = resource(&template, "MissingDailyRiskRunAlarm");
    assert!(
        missing
            .iter()
            .any(|l| l.trim() == "TreatMissingData: breaching")
    );
    let report = resource(&template, "ReportFunction");
    assert!(
        report
            .iter()
            .any(|l| l.trim() == "ScheduleExpressionTimezone: Europe/Paris")
    );
}

/// A run killed outright holds its file's claim until a minute past its deadline: the event
/// Lambda gives up on goes to a queue that delivers it back to the function once that claim
/// has lapsed, a message refused again and again ends in the alarmed queue, and the function
/// may read that queue and no other.
#[test]
fn an_event_given_up_on_comes_back_after_the_claim_of_a_killed_run() {
    let template = template();
    let value = |lines: &[&str], key: &str| -> String {
        lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key}"))
            .trim()
            .to_owned()
    };
    let number = |lines: &[&str], key: &str| -> u64 { value(lines, key).parse().unwrap() };
    let function = resource(&template, "IngestFunction");
    let retries = resource(&template, "IngestRetries");
    let failures = resource(&template, "IngestFailures");
    let mapping = resource(&template, "IngestRetriesMapping");
    assert_eq!(
        value(&function, "Destination:"),
        "!GetAtt IngestRetries.Arn"
    );
    // Delivered after the longest claim (the timeout, then the minute of the lease).
    let timeout = number(&function, "Timeout:");
    assert!(number(&retries, "DelaySeconds:") > timeout + 60);
    assert!(number(&retries, "VisibilityTimeout:") >= 6 * timeout);
    assert_eq!(
        value(&retries, "deadLetterTargetArn:"),
        "!GetAtt IngestFailures.Arn"
    );
    // Ten receipts: a delivery throttled by the ingest's cap counts as one.
    assert_eq!(number(&retries, "maxReceiveCount:"), 10);
    // A message that waits (its mapping stuck or disabled) is seen before it expires.
    let age = resource(&template, "IngestRetriesAgeAlarm");
    assert_eq!(value(&age, "MetricName:"), "ApproximateAgeOfOldestMessage");
    assert!(age.iter().any(|l| l.contains("IngestRetries.QueueName")));
    assert!(age.iter().any(|l| l.contains("!Ref OpsTopic")));
    assert!(number(&age, "Threshold:") < number(&retries, "MessageRetentionPeriod:"));
    assert!(
        number(&failures, "MessageRetentionPeriod:") > number(&retries, "MessageRetentionPeriod:"),
        "a message moved to the last queue keeps its first enqueue time"
    );
    assert_eq!(
        value(&mapping, "EventSourceArn:"),
        "!GetAtt IngestRetries.Arn"
    );
    assert_eq!(value(&mapping, "FunctionName:"), "!Ref IngestFunction");
    assert_eq!(number(&mapping, "BatchSize:"), 1);
    // The queue's rights name that queue: no managed policy over every queue.
    let sqs: Vec<_> = statements(&function)
        .into_iter()
        .filter(|s| s.actions.iter().any(|a| a.starts_with("sqs:")))
        .collect();
    assert!(!sqs.is_empty());
    for statement in &sqs {
        assert_eq!(
            statement.resources,
            ["!GetAtt IngestRetries.Arn"],
            "{}",
            statement.sid
        );
    }
    for action in ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"] {
        assert!(
            sqs.iter().any(|s| s.actions.iter().any(|a| a == action)),
            "{action}"
        );
    }
    // The mapping is a resource of its own, not an SQS event of the function, for which SAM
    // would attach a managed policy over every queue.
    assert_eq!(map_keys(&function, "Events"), ["Dropped"]);
    assert!(!function.iter().any(|l| l.contains("ManagedPolicyArns")));
}

#[test]
fn the_ingest_role_reads_the_event_version_lists_the_inbox_and_copies_in_parts() {
    let template = template();
    let ingest = statements(&resource(&template, "IngestFunction"));
    let dropped = format!("{INBOX}/inbox/lab-a/s48.csv");
    // The exact version named in the event, read whole or copied in parts.
    for action in ["s3:GetObject", "s3:GetObjectVersion"] {
        assert!(allows(&ingest, action, &dropped, None), "{action}");
    }
    // A missing key answers 404, not 403: S3 checks ListBucket with the key as prefix.
    assert!(allows(
        &ingest,
        "s3:ListBucket",
        INBOX,
        Some("inbox/lab-a/s48.csv")
    ));
    for prefix in [Some("receipts/lab-a/"), Some(""), None] {
        assert!(
            !allows(&ingest, "s3:ListBucket", INBOX, prefix),
            "{prefix:?}"
        );
    }
    assert!(!allows(&ingest, "s3:ListBucket", LAKE, Some("raw/")));
    // Multipart copies into the lake: parts are written with PutObject, a failure aborted.
    for key in ["raw/lab-a/x.csv", "quarantine/lab-a/x.csv"] {
        for action in ["s3:PutObject", "s3:AbortMultipartUpload"] {
            assert!(
                allows(&ingest, action, &format!("{LAKE}/{key}"), None),
                "{action} {key}"
            );
        }
    }
    for action in ["kms:Decrypt", "kms:GenerateDataKey"] {
        assert!(allows(&ingest, action, KEY_ARN, None), "{action}");
    }
    // Never a deletion, never a write into a declarant's inbox.
    for action in ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObject"] {
        assert!(!allows(&ingest, action, &dropped, None), "{action}");
    }
}

/// Transfer intersects the session policy with the role: whatever the identity provider grants
/// must also be allowed by `SftpUserRole`, or uploads, renames and downloads are denied.
#[test]
fn the_declarants_role_allows_everything_the_session_policy_grants() {
    let template = template();
    let auth = resource(&template, "SftpAuthFunction");
    let value = |name: &str| {
        auth.iter()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .map(resolve)
    };
    let config = sftp_auth::Config::from_env(value).expect("the identity provider's variables");
    let role = statements(&resource(&template, "SftpUserRole"));
    let policy = config.gateway.session_policy(&"lab-a".parse().expect("id"));
    let granted = policy["Statement"].as_array().expect("statements");
    // The policy is a `serde_json::Value`, used here through its methods only.
    macro_rules! strings {
        ($value:expr) => {{
            let value = &$value;
            match (value.as_str(), value.as_array()) {
                (Some(one), _) => vec![one.to_owned()],
                (None, Some(many)) => many
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
                (None, None) => Vec::new(),
            }
        }};
    }
    let mut checked = 0;
    for statement in granted {
        let prefixes: Vec<String> = strings!(statement["Condition"]["StringLike"]["s3:prefix"]);
        for action in strings!(statement["Action"]) {
            for resource in strings!(statement["Resource"]) {
                if prefixes.is_empty() {
                    assert!(
                        allows(&role, &action, &resource, None),
                        "the role denies {action} on {resource}"
                    );
                }
                for prefix in &prefixes {
                    assert!(
                        allows(&role, &action, &resource, Some(prefix)),
                        "the role denies {action} on {resource} under {prefix}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "{policy}");
    assert!(allows(&role, "kms:GenerateDataKey", KEY_ARN, None));
    // The role itself never deletes receipts nor older versions of a drop.
    for (action, key) in [
        ("s3:DeleteObject", "receipts/lab-a/x.accuse.txt"),
        ("s3:DeleteObjectVersion", "inbox/lab-a/x.csv"),
        ("s3:PutObject", "receipts/lab-a/x.accuse.txt"),
    ] {
        assert!(
            !allows(&role, action, &format!("{INBOX}/{key}"), None),
            "{action} {key}"
        );
    }
}

#[test]
fn the_functions_that_read_the_catalogue_may_read_it() {
    let template = template();
    let catalogue = format!("{LAKE}/{}", medistock_domain::lake::CATALOGUE);
    for function in ["IngestFunction", "RiskFunction", "ReportFunction"] {
        let policy = statements(&resource(&template, function));
        assert!(
            allows(&policy, "s3:GetObject", &catalogue, None),
            "{function} reads {catalogue}"
        );
        // The catalogue is listed before it is read: absent is then absent, not refused.
        assert!(
            allows(
                &policy,
                "s3:ListBucket",
                LAKE,
                Some(medistock_analytics::catalogue::CATALOGUE_PREFIX)
            ),
            "{function} lists the catalogue folder"
        );
    }
    let ingest = statements(&resource(&template, "IngestFunction"));
    assert!(
        !allows(&ingest, "s3:PutObject", &catalogue, None),
        "only an operator imports the catalogue"
    );
}

/// The ingest function writes both forms of the history; the risk function lists one day's
/// partition of each and reads them (the line-level form for files written before the daily
/// totals existed), and writes neither.
#[test]
fn the_history_the_ingest_writes_is_what_the_risk_run_may_list_and_read() {
    use medistock_domain::lake;
    let template = template();
    let ingest = statements(&resource(&template, "IngestFunction"));
    let risk = statements(&resource(&template, "RiskFunction"));
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    for (prefix, key) in [
        (lake::DAILY, lake::daily_key(day, "gr-1", "abc")),
        (lake::NORMALIZED, lake::normalized_key(day, "gr-1", "abc")),
    ] {
        let object = format!("{LAKE}/{key}");
        assert!(allows(&ingest, "s3:PutObject", &object, None), "{key}");
        assert!(allows(&risk, "s3:GetObject", &object, None), "{key}");
        assert!(!allows(&risk, "s3:PutObject", &object, None), "{key}");
        let partition = lake::partition_prefix(prefix, day);
        assert!(
            allows(&risk, "s3:ListBucket", LAKE, Some(&partition)),
            "{partition}"
        );
    }
    assert!(!allows(&risk, "s3:ListBucket", LAKE, Some("raw/")));
}

/// The risk run reminds silent declarants in their receipts folder (looked up, then written
/// once per lapse) and reads the daily snapshots around ANSM's measures; a missing key of
/// either answers 404, not 403.
#[test]
fn the_risk_run_may_write_reminders_and_read_the_snapshots_and_nothing_more() {
    use medistock_analytics::risk::lifecycle::reminder_key;
    use medistock_domain::lake;
    let template = template();
    let risk = statements(&resource(&template, "RiskFunction"));
    let key = reminder_key("gr-1", "2026-11-20");
    for action in ["s3:GetObject", "s3:PutObject"] {
        assert!(
            allows(&risk, action, &format!("{INBOX}/{key}"), None),
            "{action}"
        );
    }
    assert!(allows(&risk, "s3:ListBucket", INBOX, Some(&key)));
    for other in ["receipts/gr-1/s48.accuse.txt", "inbox/gr-1/s48.csv"] {
        assert!(
            !allows(&risk, "s3:PutObject", &format!("{INBOX}/{other}"), None),
            "{other}"
        );
        assert!(
            !allows(&risk, "s3:ListBucket", INBOX, Some(other)),
            "{other}"
        );
    }
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let snapshot = lake::risk_snapshot_key(day);
    assert!(allows(
        &risk,
        "s3:GetObject",
        &format!("{LAKE}/{snapshot}"),
        None
    ));
    assert!(allows(&risk, "s3:ListBucket", LAKE, Some(&snapshot)));
}

/// The release pass of held SMS queries the sparse index the adapter writes, and may.
#[test]
fn the_held_sms_index_is_the_one_the_adapter_writes_and_notify_may_query() {
    use medistock_aws::keys;
    let template = template();
    let table = resource(&template, "StateTable");
    for line in [
        format!("- IndexName: {}", keys::HELD_INDEX),
        format!("- AttributeName: {}", keys::HELD_PK),
        format!("- AttributeName: {}", keys::HELD_AT),
    ] {
        assert!(table.iter().any(|l| l.trim() == line), "{line}");
    }
    let notify = resource(&template, "NotifyFunction");
    assert!(
        notify
            .iter()
            .any(|l| l.contains(&format!("${{StateTable.Arn}}/index/{}", keys::HELD_INDEX)))
    );
}

/// The outbox's stream starts a relay for a new pending record only: the retry time the
/// scheduled pass writes on a record it failed to publish (a modification, still pending)
/// leaves the record to the pass, whose order it sets.
#[test]
fn the_outbox_stream_relays_new_pending_records_only() {
    let template = template();
    let mapping = resource(&template, "NotifyOutboxMapping");
    let patterns: Vec<serde_json::Value> = mapping
        .iter()
        .filter_map(|l| l.trim().strip_prefix("- Pattern: "))
        .map(|p| serde_json::from_str(p.trim_matches('\'')).expect("a JSON pattern"))
        .collect();
    assert_eq!(patterns.len(), 1, "{patterns:?}");
    let pattern = &patterns[0];
    assert_eq!(pattern["eventName"], serde_json::json!(["INSERT"]));
    let image = &pattern["dynamodb"]["NewImage"];
    assert_eq!(image["status"]["S"], serde_json::json!(["pending"]));
    assert_eq!(
        image["pk"]["S"],
        serde_json::json!([{ "prefix": medistock_aws::keys::ALERT }])
    );
}

#[test]
fn the_glue_table_declares_the_history_columns_the_code_writes() {
    let template = template();
    let table = resource(&template, "HistoryTable");
    let columns: Vec<(String, String)> = table
        .iter()
        .skip_while(|l| l.trim() != "Columns:")
        .skip(1)
        .map_while(|l| {
            let l = l.trim();
            let inner = l.strip_prefix("- { Name: ")?.strip_suffix(" }")?;
            let (name, kind) = inner.split_once(", Type: ")?;
            Some((name.to_owned(), kind.to_owned()))
        })
        .collect();
    let expected: Vec<(String, String)> = medistock_domain::lake::HISTORY_COLUMNS
        .iter()
        .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
        .collect();
    assert_eq!(columns, expected);
    assert!(
        table.iter().any(|l| l.trim()
            == format!(
                "Location: !Sub \"s3://${{LakeBucket}}/{}\"",
                medistock_domain::lake::NORMALIZED
            )),
        "the table reads the prefix the ingest function writes"
    );
}

/// The deployment's `ModelWithout` pattern names exactly the signals the risk function accepts,
/// so that a typo is refused when the stack is deployed, not at the next daily run.
#[test]
fn the_model_parameter_allows_exactly_the_signals_the_function_reads() {
    use medistock_analytics::risk::config::ModelOptions;
    let template = template();
    let pattern = template
        .lines()
        .skip_while(|l| *l != "  ModelWithout:")
        .find_map(|l| l.trim().strip_prefix("AllowedPattern: "))
        .expect("ModelWithout has an AllowedPattern");
    // The first group of alternatives, `(slip|stop|…)`, unescaped (`\\+` in YAML is `\+`).
    let start = pattern.find("((").expect("a group of names") + 2;
    let end = start + pattern[start..].find(')').expect("its end");
    let mut names: Vec<String> = pattern[start..end]
        .split('|')
        .map(|n| n.replace("\\\\", "").replace('\\', ""))
        .collect();
    names.sort();
    let mut expected: Vec<String> = ModelOptions::names().map(str::to_owned).collect();
    expected.sort();
    assert_eq!(names, expected);
    // The second occurrence (after a comma) lists the same names.
    assert_eq!(
        pattern.matches(&pattern[start..end]).count(),
        2,
        "{pattern}"
    );
    for name in ModelOptions::names() {
        assert!(ModelOptions::without(name).is_ok(), "{name}");
    }
}
