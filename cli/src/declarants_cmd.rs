//! `medistock declarants`: onboarding of declarants without redeploying. A declarant's account
//! is its one record — name, type, SSH keys, status — in the state the identity provider, the
//! risk run and the synthesis read. Locally: the data directory; on AWS: `--table` (credentials
//! from the usual chain). Ids are taken in any case and stored in their canonical lower-case
//! form (`LABO-A` → `labo-a`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use medistock_analytics::declaration::decode::decode_text;
use medistock_analytics::registry::Registry;
use medistock_aws::AwsBackend;
use medistock_domain::account::{Account, AccountChange, Cadence, apply_change, check_name};
use medistock_domain::store::AccountStore;
use medistock_domain::{DeclarantId, DeclarantType};
use medistock_local::LocalBackend;

#[derive(Args)]
pub struct DeclarantsArgs {
    /// Table d'état DynamoDB du déploiement (sortie StateTableName) : agit sur AWS au lieu
    /// du dossier de données local.
    #[arg(long, global = true)]
    table: Option<String>,

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
    /// Change la cadence de déclaration attendue d'un déclarant : quotidienne (jours
    /// ouvrés), hebdomadaire, aucune, ou defaut (celle de son type : quotidienne pour un
    /// grossiste, hebdomadaire pour un exploitant). Au-delà de sa cadence, un déclarant
    /// silencieux reçoit un rappel dans son dossier d'accusés.
    Cadence {
        /// Identifiant.
        id: DeclarantId,
        /// quotidienne, hebdomadaire, aucune ou defaut.
        cadence: String,
    },
    /// Liste les comptes : type, état, nombre de clés, cadence attendue.
    List,
    /// Importe des déclarants depuis un CSV « declarant;nom;type » (config/declarants.csv) :
    /// les comptes absents sont créés sans clé (rotate-key pour en ajouter une), les autres
    /// prennent le nom et le type du fichier et gardent leurs clés.
    Import {
        /// Le fichier CSV.
        file: PathBuf,
    },
}

pub async fn run(data_dir: &Path, args: &DeclarantsArgs) -> anyhow::Result<ExitCode> {
    match &args.table {
        Some(table) => act(&AwsBackend::load(table).await.state, &args.action).await?,
        None => act(&LocalBackend::open(data_dir)?.state, &args.action).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Applies the action to the account store.
async fn act(state: &impl AccountStore, action: &Action) -> anyhow::Result<()> {
    let (id, change) = match action {
        Action::List => {
            let accounts = state.accounts().await?;
            if accounts.is_empty() {
                println!("Aucun compte SFTP.");
            }
            for a in accounts {
                println!(
                    "{:<24} {:<12} {:<10} {} clé(s)  cadence {:<13} {}",
                    a.id.as_str(),
                    a.kind.as_str(),
                    if a.enabled { "actif" } else { "désactivé" },
                    a.public_keys.len(),
                    format!(
                        "{}{}",
                        Cadence::of(&a).as_str(),
                        if a.cadence.is_none() { "*" } else { "" }
                    ),
                    a.name
                );
            }
            return Ok(());
        }
        Action::Import { file } => {
            let bytes = std::fs::read(file).with_context(|| file.display().to_string())?;
            let registry = Registry::parse(&decode_text(&bytes).0)?;
            // Every name is checked before anything is written: a bad file changes nothing.
            for d in registry.declarants.values() {
                check_name(&d.name).with_context(|| format!("{} : {}", file.display(), d.id))?;
            }
            let (mut created, mut updated) = (0, 0);
            for imported in registry.to_accounts() {
                let account = match state.account(imported.id.as_str()).await? {
                    Some(held) => {
                        updated += 1;
                        Account {
                            cadence: imported.cadence,
                            name: imported.name,
                            kind: imported.kind,
                            ..held
                        }
                    }
                    None => {
                        created += 1;
                        imported
                    }
                };
                state.put_account(&account).await?;
            }
            println!("{created} compte(s) créé(s) sans clé, {updated} mis à jour.");
            return Ok(());
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
        Action::Cadence { id, cadence } => {
            let cadence = match cadence.trim().to_ascii_lowercase().as_str() {
                "defaut" | "défaut" => None,
                other => Some(Cadence::parse(other).map_err(anyhow::Error::msg)?),
            };
            (id, AccountChange::SetCadence(cadence))
        }
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
    Ok(())
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
        act(&state, &add).await.unwrap();
        let account = state.account("labo-a").await.unwrap().unwrap();
        assert_eq!(account.id.as_str(), "labo-a");
        assert_eq!(
            (account.name.as_str(), account.kind),
            ("Laboratoire A", DeclarantType::Exploitant)
        );
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
        let err = act(&state, &again).await.unwrap_err();
        assert!(err.to_string().contains("labo-a existe déjà"), "{err}");
        act(&state, &action(&["disable", "labo-A"])).await.unwrap();
        assert!(!state.account("labo-a").await.unwrap().unwrap().enabled);

        // An import creates the missing accounts without a key and keeps the keys held.
        let csv = dir.path().join("declarants.csv");
        std::fs::write(
            &csv,
            "declarant;nom;type\nLABO-A;Laboratoire A (nouveau nom);exploitant\ngr-b;Grossiste B;grossiste\n",
        )
        .unwrap();
        act(&state, &action(&["import", csv.to_str().unwrap()]))
            .await
            .unwrap();
        let a = state.account("labo-a").await.unwrap().unwrap();
        assert_eq!(
            (a.name.as_str(), a.public_keys.len()),
            ("Laboratoire A (nouveau nom)", 1)
        );
        let b = state.account("gr-b").await.unwrap().unwrap();
        assert_eq!((b.kind, b.public_keys.len()), (DeclarantType::Grossiste, 0));
    }
}
