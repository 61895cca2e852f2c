//! The SAM template against the code: every function crate has its resource, each function
//! gets exactly the variables it reads, policies name no wildcard resource, the SFTP gateway
//! asks the identity provider, and every function and failure queue has its alarms.
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
    for name in [
        "IngestFunction",
        "RiskFunction",
        "NotifyFunction",
        "ReportFunction",
        "SftpAuthFunction",
    ] {
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
            if line.contains("s3:::") {
                assert!(
                    line.contains("/inbox/*") || line.contains("/receipts/*"),
                    "{name}: unscoped prefix: {line}"
                );
            }
        }
    }
    let ingest = resource(&template, "IngestFunction");
    assert!(ingest.iter().any(|l| l.contains("${LakeBucket.Arn}/raw/*")));
    assert!(
        !ingest.iter().any(|l| l.contains("dynamodb:Scan")),
        "ingest never scans"
    );
    let notify = resource(&template, "NotifyFunction");
    assert!(
        notify.iter().any(|l| l.contains("ReportBatchItemFailures")),
        "partial batch responses"
    );
}

#[test]
fn the_sftp_gateway_asks_the_identity_provider_and_its_role_stays_in_the_inbox_bucket() {
    let template = template();
    let server = resource(&template, "SftpServer");
    for line in [
        "IdentityProviderType: AWS_LAMBDA",
        "Function: !GetAtt SftpAuthFunction.Arn",
        "Protocols: [SFTP]",
    ] {
        assert!(server.iter().any(|l| l.trim() == line), "{line}");
    }
    let role = resource(&template, "SftpUserRole");
    let resources: Vec<&&str> = role
        .iter()
        .filter(|l| l.contains("arn:${AWS::Partition}:s3:::"))
        .collect();
    assert_eq!(resources.len(), 3, "{resources:?}");
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

#[test]
fn every_function_and_failure_queue_has_an_alarm() {
    let template = template();
    for function in ["Ingest", "Risk", "Notify", "Report", "SftpAuth"] {
        for alarm in ["ErrorsAlarm", "ThrottlesAlarm"] {
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
