//! The `medistock` command as a user runs it: arguments, output, exit codes.

use medistock_analytics::risk::config::ModelOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/analytics/tests/fixtures")
}

fn medistock(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medistock"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("medistock runs")
}

fn fixture(name: &str) -> String {
    fixtures().join(name).display().to_string()
}

/// A fresh state table on moto (the caller checked `emulator()`): a runtime to reach it, its
/// SDK configuration and its name.
fn moto_state_table() -> (tokio::runtime::Runtime, aws_config::SdkConfig, String) {
    let table = medistock_testkit::unique("etat");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = runtime.block_on(async {
        let config = medistock_aws::sdk_config().await;
        medistock_testkit::aws::create_state_table(&aws_sdk_dynamodb::Client::new(&config), &table)
            .await
            .unwrap();
        config
    });
    (runtime, config, table)
}

/// Fails with the command's error output unless it succeeded.
#[track_caller]
fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `medistock ingest --quiet` of one file as `declarant`.
fn ingest_quietly(data_dir: &Path, declarant: &str, file: &str) -> Output {
    medistock(
        data_dir,
        &["ingest", "--declarant", declarant, "--quiet", file],
    )
}

/// `medistock backtest` of a simulated folder against its own `ruptures.csv`, with `extra`
/// options.
fn replay_simulation(data_dir: &Path, sim: &Path, extra: &[&str]) -> Output {
    let truth = sim.join("ruptures.csv");
    let mut args = vec![
        "backtest",
        "--data",
        sim.to_str().unwrap(),
        "--truth",
        truth.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    medistock(data_dir, &args)
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn validate_exit_codes_follow_the_worst_file() {
    let dir = tempfile::tempdir().unwrap();
    let ok = fixture("valide_complet.csv");
    let warn = fixture("avertissements.csv");
    let rejected = fixture("rejet_sans_entete.csv");
    assert_eq!(
        medistock(dir.path(), &["validate", &ok, &warn])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        medistock(dir.path(), &["validate", &ok, &rejected])
            .status
            .code(),
        Some(4)
    );
    // Line errors under the 10 % bound: 1 bad line among 11.
    let path = dir.path().join("une_erreur.csv");
    let mut text = String::from("cip13;date_stock;stock\n");
    for _ in 0..10 {
        text.push_str("3400949497294;2026-11-20;10\n");
    }
    text.push_str("3400949497294;2026-11-20;-1\n");
    std::fs::write(&path, text).unwrap();
    let out = medistock(dir.path(), &["validate", &ok, path.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn validate_json_prints_one_object_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = medistock(
        dir.path(),
        &[
            "validate",
            "--json",
            "--declarant",
            "grossiste-a",
            &fixture("valide_complet.csv"),
            &fixture("rejet_autre_declarant.csv"),
        ],
    );
    assert_eq!(out.status.code(), Some(4));
    let objects = json_lines(&out);
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0]["status"], "accepted");
    assert_eq!(objects[0]["declarant"], "grossiste-a");
    assert_eq!(
        objects[0]["lines"],
        serde_json::json!({"total": 4, "accepted": 4, "rejected": 0})
    );
    assert_eq!(objects[1]["status"], "rejected");
    assert_eq!(objects[1]["file_errors"][0]["code"], "declarant_different");
    for key in [
        "file",
        "sha256",
        "declarant",
        "status",
        "lines",
        "errors",
        "warnings",
        "file_errors",
    ] {
        assert!(objects[0].get(key).is_some(), "missing {key}");
    }
}

#[test]
fn validate_prints_the_french_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let out = medistock(dir.path(), &["validate", &fixture("erreurs_lignes.csv")]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Statut            : REJETÉ"), "{text}");
    assert!(text.contains("ligne 9, colonne stock, valeur « -5 » : « stock » ne peut pas être négatif [nombre_negatif]"), "{text}");
}

#[test]
fn usage_errors_exit_with_2() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(medistock(dir.path(), &["validate"]).status.code(), Some(2));
    assert_eq!(
        medistock(
            dir.path(),
            &[
                "validate",
                "--declarant",
                "../x",
                &fixture("valide_complet.csv")
            ]
        )
        .status
        .code(),
        Some(2)
    );
    let missing = medistock(dir.path(), &["validate", "absent.csv"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("absent.csv"));
    // The ingest names a file it cannot read, a missing one or a folder, and drops nothing.
    for bad in ["absent.csv", "."] {
        let out = medistock(dir.path(), &["ingest", "--declarant", "gr-1", bad]);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("fichier illisible"), "{stderr}");
    }
}

#[test]
fn catalogue_import_then_validate_warns_about_unknown_references() {
    let dir = tempfile::tempdir().unwrap();
    let bdpm = fixture("bdpm");
    let out = medistock(
        dir.path(),
        &["catalogue", "import", "--bdpm", &bdpm, "--json"],
    );
    assert_success(&out);
    assert_eq!(
        json_lines(&out)[0],
        serde_json::json!({"cis": 3, "presentations": 4, "marketed_presentations": 3, "mitm_cis": 2,
                           "generic_groups": 1, "shortage_statuses": 1, "rejected_lines": 0})
    );
    let file = dir.path().join("inconnue.csv");
    std::fs::write(
        &file,
        "cip13;date_stock;stock\n3400949497294;2026-11-20;10\n3400930000007;2026-11-20;5\n",
    )
    .unwrap();
    let out = medistock(dir.path(), &["validate", "--json", file.to_str().unwrap()]);
    let report = &json_lines(&out)[0];
    assert_eq!(report["status"], "accepted");
    assert_eq!(report["warnings"][0]["code"], "hors_catalogue");
    assert_eq!(report["warnings"][0]["line"], 3);
    // --catalogue also takes a folder of BDPM files directly.
    let other = tempfile::tempdir().unwrap();
    let out = medistock(
        other.path(),
        &[
            "validate",
            "--json",
            "--catalogue",
            &bdpm,
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(json_lines(&out)[0]["warnings"][0]["code"], "hors_catalogue");
}

#[test]
fn help_explains_in_french() {
    let dir = tempfile::tempdir().unwrap();
    let out = medistock(dir.path(), &["validate", "--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Codes de sortie"), "{text}");
}

#[test]
fn ingest_then_status_on_the_local_backend() {
    let dir = tempfile::tempdir().unwrap();
    let out = medistock(
        dir.path(),
        &[
            "ingest",
            "--declarant",
            "grossiste-a",
            &fixture("valide_complet.csv"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Statut            : ACCEPTÉ")
            && text.contains("Références mises à jour : 3"),
        "{text}"
    );

    let again = medistock(
        dir.path(),
        &[
            "ingest",
            "--declarant",
            "grossiste-a",
            &fixture("valide_complet.csv"),
        ],
    );
    assert!(String::from_utf8_lossy(&again.stdout).contains("DÉJÀ REÇU"));

    let status = medistock(dir.path(), &["status", "3400949497294", "--json"]);
    assert_eq!(
        json_lines(&status)[0],
        serde_json::json!({"subject": "3400949497294", "cip13": "3400949497294",
            "members": ["3400949497294"], "risk": null, "alert": null, "silence": null,
            "measures": [], "positions": [{
            "declarant": "grossiste-a", "date_stock": "2026-11-20", "stock": 20500, "daily_outflow": 800.0,
            "source_sha256": "4d5c631327c6783e1e482644bdc78afd8e18180425d0a68ade4ca90bf94fdd79"}]})
    );
    let rejected = medistock(
        dir.path(),
        &[
            "ingest",
            "--declarant",
            "grossiste-a",
            &fixture("rejet_sans_entete.csv"),
        ],
    );
    assert_eq!(rejected.status.code(), Some(4));
}

#[test]
fn ingest_refuses_a_declarant_without_an_account() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("declarants.csv");
    std::fs::write(&csv, "declarant;nom;type\nlab-a;Labo A;exploitant\n").unwrap();
    let import = medistock(dir.path(), &["declarants", "import", csv.to_str().unwrap()]);
    assert_success(&import);
    let out = medistock(
        dir.path(),
        &[
            "ingest",
            "--declarant",
            "grossiste-a",
            &fixture("valide_complet.csv"),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sans compte"));
    let ok = medistock(
        dir.path(),
        &[
            "ingest",
            "--declarant",
            "lab-a",
            &fixture("valide_complet.csv"),
        ],
    );
    assert_eq!(ok.status.code(), Some(0));
}

/// The manufacturer named in ANSM's settings reaches the catalogue: seven weeks after the
/// wholesaler's first figures, only the reference named for lab-a (registered, silent) is held
/// at VIGILANCE, and `status` says why it has no probability; the x90, whose settings line
/// names a company instead of an account (refused with its reason), reads TENSION on the same
/// stock, with a probability.
#[test]
fn an_unknown_manufacturer_stock_gives_no_probability_in_status() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("declarants.csv");
    std::fs::write(
        &csv,
        "declarant;nom;type\ngr-b;Grossiste B;grossiste\nlab-a;Laboratoire A;exploitant\n",
    )
    .unwrap();
    assert!(
        medistock(dir.path(), &["declarants", "import", csv.to_str().unwrap()])
            .status
            .success()
    );
    let settings = dir.path().join("suivi.csv");
    std::fs::write(
        &settings,
        "cip13;denomination;groupe;mitm;exploitant\n3400949497294;ANASTROZOLE 1 mg x30;;oui;LAB-A\n\
         3400949497706;ANASTROZOLE 1 mg x90;;non;Laboratoire A\n",
    )
    .unwrap();
    let import = medistock(
        dir.path(),
        &[
            "catalogue",
            "import",
            "--settings",
            settings.to_str().unwrap(),
        ],
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&import.stdout),
        String::from_utf8_lossy(&import.stderr)
    );
    assert!(
        said.contains("ligne 3 : exploitant « Laboratoire A » : identifiant de déclarant attendu"),
        "{said}"
    );
    assert!(import.status.success(), "the other lines are kept: {said}");
    assert!(said.contains("paramètres de suivi        : 1"), "{said}");
    // 20 days of stock for both, the wholesaler's first figures seven weeks before.
    for day in ["2026-10-01", "2026-11-20"] {
        let file = dir.path().join(format!("{day}.csv"));
        std::fs::write(
            &file,
            format!(
                "cip13;date_stock;stock;sorties\n3400949497294;{day};2000;700\n\
                 3400949497706;{day};2000;700\n"
            ),
        )
        .unwrap();
        let ingest = ingest_quietly(dir.path(), "gr-b", file.to_str().unwrap());
        assert_success(&ingest);
    }
    let risk = medistock(dir.path(), &["risk", "--as-of", "2026-11-20", "--json"]);
    assert_success(&risk);
    let status = medistock(dir.path(), &["status", "3400949497294"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("risque au 20/11/2026 : VIGILANCE"),
        "20 days, held: {text}"
    );
    assert!(
        text.contains(
            "probabilité de rupture : non calculée, le stock des exploitants est inconnu"
        ),
        "{text}"
    );
    let control = medistock(dir.path(), &["status", "3400949497706"]);
    let text = String::from_utf8_lossy(&control.stdout);
    assert!(
        text.contains("risque au 20/11/2026 : TENSION"),
        "nobody named: {text}"
    );
    assert!(
        text.contains("probabilité de rupture : ") && !text.contains("non calculée"),
        "{text}"
    );
}

#[test]
fn risk_on_the_local_backend_raises_and_publishes_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("declarants.csv");
    std::fs::write(&csv, "declarant;nom;type\ngr-b;Grossiste B;grossiste\n").unwrap();
    let import = medistock(dir.path(), &["declarants", "import", csv.to_str().unwrap()]);
    assert!(import.status.success());
    // The references ANSM follows reach the catalogue through its settings import.
    let settings = dir.path().join("suivi.csv");
    std::fs::write(
        &settings,
        "cip13;denomination;groupe;mitm\n3400949497294;ANASTROZOLE 1 mg x30;12;oui\n3400949497706;ANASTROZOLE 1 mg x90;12;non\n",
    )
    .unwrap();
    let import = medistock(
        dir.path(),
        &[
            "catalogue",
            "import",
            "--settings",
            settings.to_str().unwrap(),
        ],
    );
    assert_success(&import);
    let file = dir.path().join("s47.csv");
    std::fs::write(&file, "cip13;date_stock;stock;sorties\n3400949497294;2026-11-20;800;700\n3400949497706;2026-11-20;9000;700\n").unwrap();
    let out = ingest_quietly(dir.path(), "gr-b", file.to_str().unwrap());
    assert_eq!(out.status.code(), Some(0));

    let dry = medistock(
        dir.path(),
        &["risk", "--as-of", "2026-11-20", "--dry-run", "--json"],
    );
    assert_eq!(json_lines(&dry)[0]["summary"]["alerts_created"], 0);
    assert!(
        !dir.path().join("alerts.jsonl").exists(),
        "a dry run alerts nobody"
    );

    let out = medistock(dir.path(), &["risk", "--as-of", "2026-11-20", "--json"]);
    assert_success(&out);
    let result = &json_lines(&out)[0];
    assert_eq!(
        result["summary"]["levels"],
        serde_json::json!({"NORMAL": 1, "TENSION": 1})
    );
    // The x30's TENSION, and the group (9,800 units for 200 a day) entering VIGILANCE in the
    // daily digest.
    assert_eq!(
        result["summary"]["group_levels"],
        serde_json::json!({"VIGILANCE": 1})
    );
    assert_eq!(
        result["published"],
        serde_json::json!({"sent": 2, "sms_held": 0, "sms_released": 0, "muted": 0, "failed": 0})
    );
    let alerts = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert_eq!(alerts.lines().count(), 2);
    assert!(
        alerts.contains("[Medistock] Vigilance du 20/11/2026 : 1 entrée(s)"),
        "{alerts}"
    );
    assert!(
        alerts.contains("Rupture prévue le : 28/11/2026 (dans 8 jours)"),
        "{alerts}"
    );

    let again = medistock(dir.path(), &["risk", "--as-of", "2026-11-20", "--json"]);
    assert_eq!(
        json_lines(&again)[0]["published"]["sent"],
        0,
        "never twice for one transition"
    );
    let status = medistock(dir.path(), &["status", "3400949497294", "--json"]);
    assert_eq!(json_lines(&status)[0]["risk"]["level"], "TENSION");

    // The analyst's side: a measure on the reference, the group silenced, the reference
    // acknowledged.
    let added = medistock(
        dir.path(),
        &[
            "measures",
            "add",
            "3400949497294",
            "--kind",
            "contingentement",
            "--start",
            "2026-11-18",
            "--note",
            "quotas de 80 %",
            "--by",
            "Jeanne",
            "--json",
        ],
    );
    assert_success(&added);
    let id = json_lines(&added)[0]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("MES-"), "{id}");
    let list = medistock(
        dir.path(),
        &["measures", "list", "--subject", "3400949497294", "--json"],
    );
    assert_eq!(
        json_lines(&list)[0],
        serde_json::json!([{"id": id, "subject": "3400949497294", "kind": "contingentement",
            "start": "2026-11-18", "end": null, "note": "quotas de 80 %", "by": "Jeanne"}])
    );
    let bad = medistock(
        dir.path(),
        &[
            "measures",
            "add",
            "3400949497294",
            "--kind",
            "quota",
            "--start",
            "2026-11-18",
            "--note",
            "x",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("type de mesure inconnu « quota »"));

    let until = (chrono::Utc::now().date_naive() + chrono::Days::new(30)).to_string();
    let silence = medistock(
        dir.path(),
        &[
            "alerts",
            "silence",
            "GROUPE#12",
            "--until",
            &until,
            "--by",
            "Jeanne",
            "--note",
            "import en cours",
        ],
    );
    assert_success(&silence);
    let past = medistock(
        dir.path(),
        &[
            "alerts",
            "silence",
            "GROUPE#12",
            "--until",
            "2020-01-01",
            "--by",
            "J",
            "--note",
            "x",
        ],
    );
    assert_eq!(past.status.code(), Some(1));
    let ack = medistock(
        dir.path(),
        &["alerts", "ack", "3400949497294", "--by", "Paul"],
    );
    assert_success(&ack);
    let open = medistock(dir.path(), &["alerts", "list", "--json"]);
    assert_eq!(
        json_lines(&open)[0],
        serde_json::json!([{"subject": "3400949497294", "level": "TENSION", "since": "2026-11-20",
            "acknowledged_by": "Paul", "silenced_until": null}])
    );

    // The next day the x30 turns CRITIQUE: its group is silenced, so the message is recorded
    // muted, not sent; the status shows the measure's figures before and since.
    std::fs::write(
        &file,
        "cip13;date_stock;stock;sorties\n3400949497294;2026-11-21;500;700\n",
    )
    .unwrap();
    let out = ingest_quietly(dir.path(), "gr-b", file.to_str().unwrap());
    assert_eq!(out.status.code(), Some(0));
    let next = medistock(dir.path(), &["risk", "--as-of", "2026-11-21", "--json"]);
    let next = &json_lines(&next)[0];
    assert_eq!(next["summary"]["levels"]["CRITIQUE"], 1, "{next}");
    assert_eq!(next["published"]["muted"], 1, "{next}");
    assert_eq!(next["published"]["sent"], 0, "{next}");
    let open = medistock(dir.path(), &["alerts", "list", "--json"]);
    assert_eq!(
        json_lines(&open)[0][0]["acknowledged_by"],
        serde_json::Value::Null,
        "an acknowledgement at TENSION does not cover CRITIQUE"
    );
    let status = medistock(dir.path(), &["status", "3400949497294", "--json"]);
    let status = &json_lines(&status)[0];
    assert_eq!(
        status["silence"],
        serde_json::Value::Null,
        "the group is silenced, not the reference"
    );
    let impact = &status["measures"][0]["impact"];
    assert_eq!(impact["since"]["days_observed"], 2, "{impact}");
    assert_eq!(impact["levels"][1]["level"], "CRITIQUE", "{impact}");
    let group = medistock(dir.path(), &["status", "GROUPE#12", "--json"]);
    assert_eq!(json_lines(&group)[0]["silence"]["note"], "import en cours");
    // In text, the group's risk and no reference's figures read from it.
    let group = medistock(dir.path(), &["status", "GROUPE#12"]);
    assert_success(&group);
    let text = String::from_utf8_lossy(&group.stdout);
    assert!(text.contains("risque au "), "{text}");
    assert!(!text.contains("illisible"), "{text}");

    let ended = medistock(
        dir.path(),
        &["measures", "end", &id, "--date", "2026-11-30"],
    );
    assert!(ended.status.success());
    let list = medistock(dir.path(), &["measures", "list", "--json"]);
    assert_eq!(json_lines(&list)[0][0]["end"], "2026-11-30");
    let unsilence = medistock(dir.path(), &["alerts", "unsilence", "GROUPE#12"]);
    assert!(unsilence.status.success());
    let group = medistock(dir.path(), &["status", "GROUPE#12", "--json"]);
    assert_eq!(json_lines(&group)[0]["silence"], serde_json::Value::Null);

    // The x30 recovers to 45 days (VIGILANCE figures) while the x90 falls: its alert stays
    // open at TENSION and the group (29 days) enters TENSION; the day after, the group's
    // figures recover to VIGILANCE too and its alert stays open. `status` says so for both.
    let day = |date: &str, x30: u32, x90: u32| {
        std::fs::write(
            &file,
            format!("cip13;date_stock;stock;sorties\n3400949497294;{date};{x30};700\n3400949497706;{date};{x90};700\n"),
        )
        .unwrap();
        let out = ingest_quietly(dir.path(), "gr-b", file.to_str().unwrap());
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let out = medistock(dir.path(), &["risk", "--as-of", date, "--json"]);
        assert_success(&out);
    };
    day("2026-11-22", 4500, 300);
    day("2026-11-23", 4400, 3400);
    let text = |subject: &str| {
        let out = medistock(dir.path(), &["status", subject]);
        assert_success(&out);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for subject in ["3400949497294", "GROUPE#12"] {
        let text = text(subject);
        assert!(
            text.contains("Niveau maintenu à TENSION : les chiffres du jour donnent VIGILANCE"),
            "{subject}: {text}"
        );
    }
}

#[test]
fn recompute_reports_a_missing_function_clearly() {
    let Some(endpoint) = medistock_testkit::emulator() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_medistock"))
        .args([
            "recompute",
            "--function",
            "medistock-absent-risk",
            "--dry-run",
        ])
        .env("AWS_ENDPOINT_URL", endpoint)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("appel de la fonction medistock-absent-risk")
            && stderr.contains("ResourceNotFound"),
        "{stderr}"
    );
}

#[test]
fn demo_runs_the_whole_pipeline_and_scores_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = medistock(&data, &["demo", "--references", "6", "--days", "150"]);
    assert_success(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Démonstration : 6 références, 6 déclarants, 150 jours"),
        "{text}"
    );
    assert!(
        text.contains("arrêt de production"),
        "the production stop runs out: {text}"
    );
    assert!(
        text.contains("ruptures réelles                         : 4"),
        "{text}"
    );
    assert!(data.join("alerts.jsonl").is_file());
    // A synthesis every simulated Sunday, and the last week's: its table holds exactly the
    // references of the RISK items, each at its level.
    let reports = data.join("lac/reports");
    assert_eq!(
        std::fs::read_dir(&reports).unwrap().count(),
        21,
        "weeks 33 to 53"
    );
    let csv = std::fs::read_to_string(reports.join("2026-W53/synthese.csv")).unwrap();
    let mut from_report: Vec<(String, String)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split(';').collect();
            (cells[0].to_owned(), cells[4].to_owned())
        })
        .collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let items = runtime.block_on(async {
        use medistock_domain::store::RiskStore;
        let backend = medistock_local::LocalBackend::open(&data).unwrap();
        backend.state.risk_items().await.unwrap()
    });
    let mut from_items: Vec<(String, String)> = items
        .iter()
        .filter(|i| i.group().is_none())
        .map(|i| (i.subject.clone(), i.level.as_str().to_owned()))
        .collect();
    from_report.sort();
    from_items.sort();
    assert_eq!(from_report, from_items);
    let html = std::fs::read_to_string(reports.join("2026-W53/synthese.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html><html lang=\"fr\">"));
    assert!(
        html.contains("TENSION (sous 30 jours)"),
        "the default thresholds"
    );
    assert!(text.contains("2026-W53/synthese.html"), "{text}");
    // Seeded: the same seed gives the same data set, hence the same report.
    let again = medistock(
        &dir.path().join("demo2"),
        &["demo", "--references", "6", "--days", "150"],
    );
    let strip = |t: &str| {
        t.replace(dir.path().join("demo2").to_str().unwrap(), "")
            .replace(data.to_str().unwrap(), "")
    };
    assert_eq!(
        strip(&text),
        strip(&String::from_utf8(again.stdout).unwrap())
    );
    // A data directory in use is refused.
    let busy = medistock(&data, &["demo"]);
    assert_eq!(busy.status.code(), Some(1));
    // Another TENSION threshold: the references and groups take it, and the synthesis says so.
    let other = dir.path().join("demo45");
    let out = medistock(
        &other,
        &[
            "demo",
            "--references",
            "6",
            "--days",
            "42",
            "--seuil-tension",
            "45",
        ],
    );
    assert_success(&out);
    let week = std::fs::read_dir(other.join("lac/reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let html = std::fs::read_to_string(week.join("synthese.html")).unwrap();
    assert!(
        html.contains("TENSION (sous 45 jours)"),
        "{}",
        week.display()
    );
}

#[test]
fn backtest_replays_a_folder_of_declarations_against_known_stock_outs() {
    use medistock_cli::demo::{DemoSpec, generate};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("archives");
    let set = generate(&DemoSpec {
        seed: 7,
        references: 6,
        days: 150,
        start: "2026-08-01".parse().unwrap(),
    });
    std::fs::create_dir_all(data.join("config")).unwrap();
    std::fs::write(data.join("config/declarants.csv"), &set.declarants_csv).unwrap();
    std::fs::write(data.join("config/references.csv"), &set.references_csv).unwrap();
    for f in &set.files {
        let folder = data.join("inbox").join(&f.declarant);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(&f.name), &f.content).unwrap();
    }
    let mut truth = String::from("cip13;date_rupture\n");
    for (cip, day) in &set.truth {
        truth.push_str(&format!("{cip};{}\n", day.format("%d/%m/%Y")));
    }
    std::fs::write(dir.path().join("ruptures.csv"), truth).unwrap();
    let out = medistock(
        dir.path(),
        &[
            "backtest",
            "--data",
            data.to_str().unwrap(),
            "--truth",
            dir.path().join("ruptures.csv").to_str().unwrap(),
            "--details",
            dir.path().join("details.csv").to_str().unwrap(),
            "--json",
        ],
    );
    assert_success(&out);
    let board = &json_lines(&out)[0];
    assert_eq!(board["references"], 6);
    assert_eq!(board["stockouts"], set.truth.len());
    for key in [
        "recall_at_14d",
        "recall_at_30d",
        "escalation_precision",
        "escalations_on_day_1",
        "median_lead_time_days",
        "false_alerts_per_20_reference_months",
        "alerts_per_reference_month",
        "tension_day_share",
    ] {
        assert!(board.get(key).is_some(), "{key}");
    }
    assert!(
        board["median_lead_time_days"]
            .as_f64()
            .is_some_and(|d| d > 0.0),
        "the stock-out was warned: {board}"
    );
    let details = std::fs::read_to_string(dir.path().join("details.csv")).unwrap();
    assert_eq!(
        details.lines().count(),
        1 + 6,
        "one row per reference: {details}"
    );
    assert!(details.starts_with("cip13;date_rupture;debut_alerte;avance_jours;"));
    let with_stockout = details
        .lines()
        .skip(1)
        .filter(|l| !l.split(';').nth(1).unwrap_or("").is_empty())
        .count();
    assert_eq!(with_stockout, set.truth.len());
    // Each escalation the scoreboard counts (up, to TENSION or worse: TENSION to CRITIQUE
    // too) comes with what it was made on, the false ones included.
    let rank = |level: &str| {
        ["NORMAL", "VIGILANCE", "TENSION", "CRITIQUE", "RUPTURE"]
            .iter()
            .position(|l| *l == level)
            .unwrap()
    };
    let mut explained = 0;
    for row in details.lines().skip(1) {
        let cells: Vec<&str> = row.split(';').collect();
        assert_eq!(cells.len(), 7, "{row}");
        let mut escalations = Vec::new();
        let mut before = 0;
        for step in cells[4].split(" > ") {
            let (day, level) = step.split_once(' ').unwrap();
            if rank(level) > before && rank(level) >= 2 {
                escalations.push(format!("{day} {level}"));
            }
            before = rank(level);
        }
        let reasons: Vec<&str> = cells[6].split(" | ").filter(|r| !r.is_empty()).collect();
        assert_eq!(reasons.len(), escalations.len(), "{row}");
        for (reason, escalation) in reasons.iter().zip(&escalations) {
            assert!(
                reason.starts_with(escalation.as_str()),
                "{reason} / {escalation}"
            );
            assert!(
                reason.contains(" j"),
                "days to the stock-out or cover: {reason}"
            );
        }
        for false_escalation in cells[5].split(' ').filter(|d| !d.is_empty()) {
            assert!(
                reasons.iter().any(|r| r.starts_with(false_escalation)),
                "a false escalation without its reason: {row}"
            );
        }
        explained += reasons.len();
    }
    assert!(explained > 0, "the stock-out was warned: {details}");

    // Another TENSION threshold: warnings come no later, and the threshold is bounded.
    let replay_with = |tension: &str| {
        medistock(
            dir.path(),
            &[
                "backtest",
                "--data",
                data.to_str().unwrap(),
                "--truth",
                dir.path().join("ruptures.csv").to_str().unwrap(),
                "--seuil-tension",
                tension,
                "--json",
            ],
        )
    };
    let earlier = replay_with("45");
    assert_success(&earlier);
    let earlier = &json_lines(&earlier)[0];
    assert!(
        earlier["median_lead_time_days"].as_f64() > board["median_lead_time_days"].as_f64(),
        "45 days warn earlier than 30: {earlier} / {board}"
    );
    let refused = replay_with("61");
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("le seuil de TENSION va de 8 jours"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[test]
fn declarants_are_onboarded_rotated_and_disabled_without_redeploying() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("donnees");
    let key1 = dir.path().join("id1.pub");
    let key2 = dir.path().join("id2.pub");
    std::fs::write(
        &key1,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFirstKey lab-x@poste\n",
    )
    .unwrap();
    std::fs::write(
        &key2,
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAISecondKey lab-x@poste\n",
    )
    .unwrap();
    let run = |args: &[&str]| medistock(&data, args);
    let added = run(&[
        "declarants",
        "add",
        "lab-x",
        "--name",
        "Laboratoire X",
        "--type",
        "exploitant",
        "--key",
        key1.to_str().unwrap(),
    ]);
    assert_success(&added);
    let listed = run(&["declarants", "list"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("lab-x")
            && listed.contains("exploitant")
            && listed.contains("Laboratoire X"),
        "the one record carries the type the risk run reads: {listed}"
    );
    let again = run(&[
        "declarants",
        "add",
        "lab-x",
        "--name",
        "X",
        "--type",
        "exploitant",
        "--key",
        key1.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("existe déjà"));

    let rotated = run(&[
        "declarants",
        "rotate-key",
        "lab-x",
        "--key",
        key2.to_str().unwrap(),
        "--keep-previous",
    ]);
    assert!(rotated.status.success());
    let listed = String::from_utf8(run(&["declarants", "list"]).stdout).unwrap();
    assert!(
        listed.contains("lab-x") && listed.contains("actif") && listed.contains("2 clé(s)"),
        "{listed}"
    );

    assert!(run(&["declarants", "disable", "lab-x"]).status.success());
    let listed = String::from_utf8(run(&["declarants", "list"]).stdout).unwrap();
    assert!(listed.contains("désactivé"), "{listed}");

    std::fs::write(&key1, "-----BEGIN OPENSSH PRIVATE KEY-----\n").unwrap();
    let private = run(&[
        "declarants",
        "rotate-key",
        "lab-x",
        "--key",
        key1.to_str().unwrap(),
    ]);
    assert!(!private.status.success());
    assert!(
        String::from_utf8_lossy(&private.stderr).contains("clé publique SSH invalide"),
        "{}",
        String::from_utf8_lossy(&private.stderr)
    );
}

#[test]
fn declarants_on_aws_write_the_one_record_in_the_table() {
    let Some(endpoint) = medistock_testkit::emulator() else {
        return;
    };
    use medistock_domain::store::AccountStore;
    let (runtime, config, table) = moto_state_table();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id.pub");
    std::fs::write(&key, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMotoKey gr-z\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_medistock"))
        .args(["declarants", "--table", &table])
        .args([
            "add",
            "gr-z",
            "--name",
            "Grossiste Z",
            "--type",
            "grossiste",
        ])
        .arg("--key")
        .arg(&key)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .output()
        .unwrap();
    assert_success(&out);
    runtime.block_on(async {
        let state =
            medistock_aws::DynamoState::new(aws_sdk_dynamodb::Client::new(&config), table.as_str());
        let account = state.account("gr-z").await.unwrap().unwrap();
        assert!(account.enabled);
        assert_eq!(account.public_keys.len(), 1);
        assert_eq!(
            (account.name.as_str(), account.kind.as_str()),
            ("Grossiste Z", "grossiste")
        );
    });
}

#[test]
fn the_independent_simulation_is_replayed_by_the_backtest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chaine");
    let sim = medistock(
        dir.path(),
        &[
            "simulate",
            "--out",
            out.to_str().unwrap(),
            "--seed",
            "3",
            "--references",
            "12",
            "--days",
            "60",
            "--pharmacies",
            "30",
            "--wholesalers",
            "1",
            "--json",
        ],
    );
    assert_success(&sim);
    let truth = std::fs::read_to_string(out.join("ruptures.csv")).unwrap();
    let details = dir.path().join("details.csv");
    let replay = replay_simulation(
        dir.path(),
        &out,
        &["--details", details.to_str().unwrap(), "--json"],
    );
    assert_success(&replay);
    let board = &json_lines(&replay)[0];
    assert_eq!(board["references"], 12);
    assert_eq!(
        board["stockouts"].as_u64().unwrap() as usize,
        truth.lines().count() - 1,
        "every true stock-out of the simulation is scored: {truth}"
    );
    let rows = std::fs::read_to_string(&details).unwrap();
    assert_eq!(rows.lines().count(), 1 + 12, "{rows}");
    assert!(
        board["raw_probabilities"]["within_30_days"]
            .as_array()
            .is_some_and(|bins| !bins.is_empty()),
        "the model's own probabilities are kept for a calibration: {board}"
    );
    assert_eq!(
        board["raw_probabilities"]["model"],
        ModelOptions::default().signature().as_str(),
        "with the model that gave them"
    );

    // A map learnt with another model is refused, in French, before anything is replayed.
    let other = ModelOptions::without("episode").unwrap();
    let other_map = dir.path().join("calibration-autre.json");
    assert_success(&medistock(
        dir.path(),
        &[
            "calibration",
            "learn",
            "--from",
            flat_board_of(dir.path(), 0.07, &other).to_str().unwrap(),
            "--output",
            other_map.to_str().unwrap(),
        ],
    ));
    let refused = replay_simulation(
        dir.path(),
        &out,
        &["--calibration", other_map.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(
            "calibration apprise avec le modèle « v1,episode », le calcul utilise « v1 »"
        ),
        "{stderr}"
    );
    // Learnt with that model, it is the one the replay without the rule takes.
    let without_rule = replay_simulation(
        dir.path(),
        &out,
        &[
            "--without",
            "episode",
            "--calibration",
            other_map.to_str().unwrap(),
        ],
    );
    assert_success(&without_rule);

    // Replayed with a calibration that says 7 % whatever the model says: the table shows the
    // calibrated figures, the model's own are the same as without, and so is every level
    // (`rows`: the details of the replay without a map).
    let map = dir.path().join("calibration.json");
    let learn = medistock(
        dir.path(),
        &[
            "calibration",
            "learn",
            "--from",
            flat_board(dir.path(), 0.07).to_str().unwrap(),
            "--output",
            map.to_str().unwrap(),
        ],
    );
    assert_success(&learn);
    let details_calibrated = dir.path().join("details-calibree.csv");
    let calibrated = replay_simulation(
        dir.path(),
        &out,
        &[
            "--calibration",
            map.to_str().unwrap(),
            "--details",
            details_calibrated.to_str().unwrap(),
            "--json",
        ],
    );
    assert_success(&calibrated);
    let calibrated = &json_lines(&calibrated)[0];
    // Every day at 7 %, but those the model put at RUPTURE (their figure, near certain, kept).
    for horizon in ["calibration_14d", "calibration_30d"] {
        let rows = calibrated[horizon].as_array().unwrap();
        let days = |row: &serde_json::Value| row["assessments"].as_u64().unwrap();
        let total: u64 = rows.iter().map(days).sum();
        let first = &rows[0];
        assert_eq!(first["from"], 0.0, "{first}");
        assert!((first["mean_predicted"].as_f64().unwrap() - 0.07).abs() < 1e-9);
        assert!(days(first) * 10 >= total * 9, "{rows:?}");
        for row in &rows[1..] {
            assert!(row["from"].as_f64().unwrap() >= 0.8, "{row}");
        }
    }
    for same in [
        "raw_probabilities",
        "recall_at_14d",
        "recall_at_30d",
        "false_alerts_per_20_reference_months",
        "tension_day_share",
        "calibration_withheld",
    ] {
        assert_eq!(calibrated[same], board[same], "{same}");
    }
    // The Brier score of the model's figures is the same; that of the figures shown is not.
    let (without, with) = (
        board["brier"].as_array().unwrap(),
        calibrated["brier"].as_array().unwrap(),
    );
    assert_eq!(without.len(), 2);
    for (without, with) in without.iter().zip(with) {
        assert_eq!(without["model"], with["model"]);
        assert_eq!(
            without["shown"], without["model"],
            "no map: the model's figures"
        );
        assert_ne!(with["shown"], with["model"], "{with}");
    }
    assert_eq!(
        std::fs::read_to_string(&details_calibrated).unwrap(),
        rows,
        "every reference's path of levels, warnings and escalations"
    );
}

/// A replay's JSON whose observations say `share` of stock-outs for every probability of the
/// model with its default options: 100 reference-days in each hundredth.
fn flat_board(dir: &Path, share: f64) -> PathBuf {
    flat_board_of(dir, share, &ModelOptions::default())
}

/// The same, for the model `options` make.
fn flat_board_of(dir: &Path, share: f64, options: &ModelOptions) -> PathBuf {
    let bins: Vec<serde_json::Value> = (0..100)
        .map(|bin| {
            serde_json::json!({
                "bin": bin,
                "assessments": 100,
                "predicted_sum": (bin as f64 + 0.5),
                "stockouts": (share * 100.0).round() as u64,
            })
        })
        .collect();
    let model = options.signature();
    let path = dir.join(format!("plat-{share}-{model}.json"));
    std::fs::write(
        &path,
        serde_json::json!({
            "recall_at_14d": 0.5,
            "raw_probabilities": {
                "model": model,
                "within_14_days": bins,
                "within_30_days": bins,
            },
        })
        .to_string(),
    )
    .unwrap();
    path
}

/// A calibration learnt from replays is installed in the data directory, shown, and used by
/// the risk run: `status` gives the calibrated probability with the model's own. Replays that
/// cannot teach one are refused in French.
#[test]
fn a_calibration_learnt_from_replays_is_installed_and_shown_with_the_model_s_figures() {
    let dir = tempfile::tempdir().unwrap();
    let none = medistock(dir.path(), &["calibration", "show"]);
    assert_success(&none);
    assert!(String::from_utf8_lossy(&none.stdout).contains("Aucune calibration installée"));

    // Two replays add up: 100 days a hundredth each, 7 % followed by a stock-out.
    let board = flat_board(dir.path(), 0.07);
    let learn = medistock(
        dir.path(),
        &[
            "calibration",
            "learn",
            "--from",
            board.to_str().unwrap(),
            board.to_str().unwrap(),
            "--label",
            "archives 2025-2026",
        ],
    );
    assert_success(&learn);
    let text = String::from_utf8_lossy(&learn.stdout);
    assert!(text.contains("catalogue/calibration.json"), "{text}");
    assert!(text.contains("(200 jours-références)"), "{text}");
    let show = medistock(dir.path(), &["calibration", "show"]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(text.contains("apprise sur : archives 2025-2026"), "{text}");
    assert!(
        text.contains(&format!("modèle : {}", ModelOptions::default().signature())),
        "{text}"
    );
    assert!(text.contains("  99.5 % →   7.0 %"), "{text}");

    // A wholesaler's 20 days of stock, no manufacturer expected: a probability is computed.
    let csv = dir.path().join("declarants.csv");
    std::fs::write(
        &csv,
        "declarant;nom;type
gr-b;Grossiste B;grossiste
",
    )
    .unwrap();
    assert_success(&medistock(
        dir.path(),
        &["declarants", "import", csv.to_str().unwrap()],
    ));
    for day in ["2026-10-01", "2026-11-20"] {
        let file = dir.path().join(format!("{day}.csv"));
        std::fs::write(
            &file,
            format!("cip13;date_stock;stock;sorties\n3400949497294;{day};2000;700\n"),
        )
        .unwrap();
        assert_success(&ingest_quietly(dir.path(), "gr-b", file.to_str().unwrap()));
    }
    assert_success(&medistock(dir.path(), &["risk", "--as-of", "2026-11-20"]));
    let status = medistock(dir.path(), &["status", "3400949497294"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains(
            "probabilité de rupture : 7 % sous 14 jours, 7 % sous 30 jours (calibrée sur \
             l'historique rejoué ; le modèle seul : "
        ),
        "{text}"
    );

    // What cannot teach a calibration.
    let old = dir.path().join("ancien.json");
    std::fs::write(&old, r#"{"recall_at_14d": 0.5}"#).unwrap();
    let refused = medistock(
        dir.path(),
        &["calibration", "learn", "--from", old.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("aucune probabilité observée"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let few = flat_board(dir.path(), 0.0);
    let refused = medistock(
        dir.path(),
        &["calibration", "learn", "--from", few.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("trop peu d'observations pour apprendre la calibration sous 14 jours"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // Replays of two models are not learnt together.
    let other = flat_board_of(dir.path(), 0.07, &ModelOptions::without("local").unwrap());
    let refused = medistock(
        dir.path(),
        &[
            "calibration",
            "learn",
            "--from",
            board.to_str().unwrap(),
            other.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("rejeux de modèles différents"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // The map installed is untouched by the refusals.
    let show = medistock(dir.path(), &["calibration", "show"]);
    assert!(String::from_utf8_lossy(&show.stdout).contains("archives 2025-2026"));
}

/// The third simulator (`scripts/chain_sim.py`, written from a description of the chain
/// alone) writes a folder the backtest replays whole: every file of its declarants' dialects
/// (separators, encodings, column names, date forms) applied, none rejected, and the scoreboard
/// says so.
#[test]
fn the_third_simulation_is_replayed_whole_by_the_backtest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("chaine3");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/chain_sim.py");
    let sim = Command::new("python3")
        .arg(&script)
        .args(["--seed", "7", "--references", "10", "--days", "60", "--out"])
        .arg(&out)
        .output()
        .expect("python3 runs (the tests need it, as the moto server does)");
    assert_success(&sim);
    let files = walk_files(&out.join("inbox"));
    assert!(files > 100, "{files} files written");
    let replay = replay_simulation(dir.path(), &out, &["--json"]);
    assert_success(&replay);
    let board = &json_lines(&replay)[0];
    assert_eq!(board["references"], 10);
    assert_eq!(board["files"]["rejected"], 0, "{board}");
    assert_eq!(board["files"]["lines_rejected"], 0, "{board}");
    assert_eq!(
        board["files"]["applied"].as_u64().unwrap()
            + board["files"]["duplicates"].as_u64().unwrap(),
        files as u64,
        "{board}"
    );
    // The same data with one file that is not a declaration: counted, and said on stderr.
    let gr = std::fs::read_dir(out.join("inbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("gr-"))
        .unwrap();
    std::fs::write(gr.join("2025-10-01__vide.csv"), "").unwrap();
    // And a valid declaration left under a temporary upload's name: ignored, as the ingest
    // ignores it, counted, and the replay goes on.
    let declared = std::fs::read_dir(&gr)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "csv"))
        .unwrap();
    std::fs::copy(&declared, gr.join("copie.csv.filepart")).unwrap();
    let replay = replay_simulation(dir.path(), &out, &[]);
    assert_success(&replay);
    let stdout = String::from_utf8_lossy(&replay.stdout);
    assert!(
        stdout.contains("(rejetés : 1, déjà reçus : 0, ignorés : 1)"),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&replay.stderr).contains("1 fichier(s) rejeté(s)"),
        "{replay:?}"
    );
}

/// Files under `dir`, at any depth.
fn walk_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| if p.is_dir() { walk_files(&p) } else { 1 })
        .sum()
}

#[test]
fn measures_and_alerts_on_aws_live_in_the_table() {
    let Some(endpoint) = medistock_testkit::emulator() else {
        return;
    };
    use medistock_domain::store::{AlertStateStore, MeasureStore, RiskItem, RiskStore};
    let (runtime, config, table) = moto_state_table();
    let state =
        medistock_aws::DynamoState::new(aws_sdk_dynamodb::Client::new(&config), table.as_str());
    // A reference in TENSION since 20/11, as the risk function leaves it.
    runtime.block_on(async {
        let item = RiskItem {
            subject: "3400949497294".into(),
            level: medistock_domain::Level::Tension,
            as_of: "2026-11-22".parse().unwrap(),
            computed_at: chrono::Utc::now(),
            version: 1,
            figures: "{}".into(),
            open_since: Some("2026-11-20".parse().unwrap()),
            recalled_on: None,
        };
        assert!(state.put_risk(&item, None).await.unwrap());
    });
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_medistock"))
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .args(["--table", &table])
            .env("AWS_ENDPOINT_URL", &endpoint)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let added = run(&[
        "measures",
        "add",
        "GROUPE#12",
        "--kind",
        "importation",
        "--start",
        "2026-11-21",
        "--note",
        "import d'Italie",
        "--by",
        "Jeanne",
        "--json",
    ]);
    let id = json_lines(&added)[0]["id"].as_str().unwrap().to_owned();
    run(&["measures", "end", &id, "--date", "2026-12-20"]);
    let until = (chrono::Utc::now().date_naive() + chrono::Days::new(10)).to_string();
    run(&[
        "alerts",
        "silence",
        "3400949497294",
        "--until",
        &until,
        "--by",
        "Paul",
        "--note",
        "import",
    ]);
    run(&["alerts", "ack", "3400949497294", "--by", "Paul"]);
    let open = run(&["alerts", "list", "--json"]);
    assert_eq!(
        json_lines(&open)[0],
        serde_json::json!([{"subject": "3400949497294", "level": "TENSION", "since": "2026-11-20",
            "acknowledged_by": "Paul", "silenced_until": until}])
    );
    runtime.block_on(async {
        let measures = state.measures().await.unwrap();
        assert_eq!(measures.len(), 1);
        assert_eq!(
            (measures[0].version, measures[0].end),
            (2, Some("2026-12-20".parse().unwrap()))
        );
        let held = state.alert_state("3400949497294").await.unwrap().unwrap();
        assert_eq!(
            held.version, 2,
            "silence then acknowledgement, each on the version read"
        );
        assert!(held.silence.is_some() && held.acknowledgement.is_some());
    });
    run(&["alerts", "unsilence", "3400949497294"]);
    let open = run(&["alerts", "list", "--json"]);
    assert_eq!(
        json_lines(&open)[0][0]["silenced_until"],
        serde_json::Value::Null
    );
}
