//! `medistock declarants`: onboarding of declarants without redeploying. The SFTP account
//! (keys, status) goes to the state table the identity provider reads, and the declarant's
//! type to the registry the risk run reads (`config/declarants.csv`). Locally: the data
//! directory; on AWS: `--table` and `--lake` (credentials from the usual chain). Ids are taken
//! in any case and stored in their canonical lower-case form (`LABO-A` → `labo-a`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use medistock_analytics::registry::{Declarant, REGISTRY_FILE, Registry};
use medistock_analytics::risk::config::LAKE_REGISTRY_KEY;
use medistock_aws::AwsBackend;
use medistock_domain::account::{Account, AccountChange, apply_change};
use medistock_domain::store::{AccountStore, ObjectStore};
use medistock_domain::{DeclarantId, DeclarantType};
use medistock_local::LocalBackend;

#[derive(Args)]
pub struct DeclarantsArgs {
    /// Table d'état DynamoDB du déploiement (sortie StateTableName) : agit sur AWS au lieu
    /// du dossier de données local.
    #[arg(long, global = true, requires = "lake")]
    table: Option<String>,

    /// Bucket du lac du déploiement (sortie LakeBucketName), où vit config/declarants.csv.
    #[arg(long, global = true, requires = "table")]
    lake: Option<String>,

    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Inscrit un déclarant : compte SFTP (clé publique) et type dans le registre.
    Add {
        /// Identifiant : lettres, chiffres, - et _ ; nom d'utilisateur SFTP et dossier.
        /// Majuscules et minuscules sont équivalentes : LABO-A est enregistré labo-a.
        id: DeclarantId,
        /// Raison sociale.
        #[arg(long)]
        name: String,
        /// exploitant, grossiste ou autre.
        #[arg(long = "type", value_parser = DeclarantType::parse)]
        kind: DeclarantType,
        /// Fichier de la clé publique SSH (id_ed25519.pub…).
        #[arg(long)]
        key: PathBuf,
    },
    /// Remplace la clé SSH d'un déclarant (ou l'ajoute avec --keep-previous, le temps que
    /// le déclarant bascule).
    RotateKey {
        /// Identifiant.
        id: DeclarantId,
        /// Fichier de la nouvelle clé publique SSH.
        #[arg(long)]
        key: PathBuf,
        /// Garde les clés actuelles en plus de la nouvelle.
        #[arg(long)]
        keep_previous: bool,
    },
    /// Désactive un déclarant : plus de connexion ; ses fichiers et son historique restent.
    Disable {
        /// Identifiant.
        id: DeclarantId,
    },
    /// Réactive un déclarant désactivé.
    Enable {
        /// Identifiant.
        id: DeclarantId,
    },
    /// Liste les comptes : type, état, nombre de clés.
    List,
}

enum Place<'a> {
    Local(&'a Path),
    Aws { table: &'a str, lake: &'a str },
}

pub async fn run(data_dir: &Path, args: &DeclarantsArgs) -> anyhow::Result<ExitCode> {
    let place = match (&args.table, &args.lake) {
        (Some(table), Some(lake)) => Place::Aws { table, lake },
        _ => Place::Local(data_dir),
    };
    match place {
        Place::Local(dir) => {
            let backend = LocalBackend::open(dir)?;
            let path = dir.join(REGISTRY_FILE);
            let registry = Registry::load(dir)?.unwrap_or_default();
            if let Some(registry) = act(&backend.state, registry, &args.action).await? {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&path, registry.to_csv())
                    .with_context(|| path.display().to_string())?;
            }
        }
        Place::Aws { table, lake } => {
            let backend = AwsBackend::load(table).await;
            let registry = match backend.objects.get(lake, LAKE_REGISTRY_KEY).await? {
                Some(object) => Registry::parse(&String::from_utf8_lossy(&object.bytes))?,
                None => Registry::default(),
            };
            if let Some(registry) = act(&backend.state, registry, &args.action).await? {
                backend
                    .objects
                    .put(
                        lake,
                        LAKE_REGISTRY_KEY,
                        registry.to_csv().into_bytes(),
                        "text/csv; charset=utf-8",
                        &Default::default(),
                    )
                    .await?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Applies the action to the account store; returns the registry to write when it changed.
async fn act(
    state: &impl AccountStore,
    mut registry: Registry,
    action: &Action,
) -> anyhow::Result<Option<Registry>> {
    let (id, change) = match action {
        Action::List => {
            let accounts = state.accounts().await?;
            if accounts.is_empty() {
                println!("Aucun compte SFTP.");
            }
            for a in accounts {
                println!(
                    "{:<24} {:<12} {:<10} {} clé(s)  {}",
                    a.id.as_str(),
                    a.kind.as_str(),
                    if a.enabled { "actif" } else { "désactivé" },
                    a.public_keys.len(),
                    a.name
                );
            }
            return Ok(None);
        }
        Action::Add {
            id,
            name,
            kind,
            key,
        } => (
            id,
            AccountChange::Add {
                name: name.clone(),
                kind: *kind,
                key: read_key(key)?,
            },
        ),
        Action::RotateKey {
            id,
            key,
            keep_previous,
        } => (
            id,
            AccountChange::RotateKey {
                key: read_key(key)?,
                keep_previous: *keep_previous,
            },
        ),
        Action::Disable { id } => (id, AccountChange::Disable),
        Action::Enable { id } => (id, AccountChange::Enable),
    };
    let current = state.account(id.as_str()).await?;
    let account: Account = apply_change(id, current, &change)?;
    state.put_account(&account).await?;
    println!(
        "{} : {}, {} clé(s) ; dépôt sftp {}@<serveur>, accusés dans /accuses",
        account.id,
        if account.enabled {
            "actif"
        } else {
            "désactivé"
        },
        account.public_keys.len(),
        account.id
    );
    if matches!(change, AccountChange::Add { .. }) {
        registry.declarants.insert(
            account.id.clone(),
            Declarant {
                id: account.id.clone(),
                name: account.name.clone(),
                kind: account.kind,
            },
        );
        return Ok(Some(registry));
    }
    Ok(None)
}

fn read_key(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("clé publique {}", path.display()))
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use medistock_local::LocalState;

    use super::*;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        args: DeclarantsArgs,
    }

    fn action(args: &[&str]) -> Action {
        let args = std::iter::once("declarants").chain(args.iter().copied());
        Command::try_parse_from(args).unwrap().args.action
    }

    #[tokio::test]
    async fn an_id_in_capitals_is_stored_in_its_canonical_form() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id.pub");
        std::fs::write(
            &key,
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKey labo-a\n",
        )
        .unwrap();
        let key = key.to_str().unwrap();
        let state = LocalState::in_memory().unwrap();
        let add = action(&[
            "add",
            "LABO-A",
            "--name",
            "Laboratoire A",
            "--type",
            "exploitant",
            "--key",
            key,
        ]);
        let registry = act(&state, Registry::default(), &add)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            registry.to_csv(),
            "declarant;nom;type\nlabo-a;Laboratoire A;exploitant\n"
        );
        let account = state.account("labo-a").await.unwrap().unwrap();
        assert_eq!(account.id.as_str(), "labo-a");
        assert!(state.account("LABO-A").await.unwrap().is_none());

        // Any spelling names the same declarant afterwards.
        let again = action(&[
            "add",
            "Labo-A",
            "--name",
            "Autre",
            "--type",
            "grossiste",
            "--key",
            key,
        ]);
        let err = act(&state, registry, &again).await.unwrap_err();
        assert!(err.to_string().contains("labo-a existe déjà"), "{err}");
        act(&state, Registry::default(), &action(&["disable", "labo-A"]))
            .await
            .unwrap();
        assert!(!state.account("labo-a").await.unwrap().unwrap().enabled);
    }
}
