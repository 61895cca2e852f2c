//! The alert policy's options, shared by the commands that relay alerts: the same settings as
//! the functions' environment variables.

use clap::Args;
use medistock_domain::lifecycle::AlertPolicy;

#[derive(Args, Debug, Clone)]
pub struct PolicyArgs {
    /// Heures calmes (heure de Paris) : les SMS y sont retenus et partent à leur fin, le
    /// courriel part tout de suite. « aucune » pour les désactiver.
    #[arg(
        long,
        value_name = "HH:MM-HH:MM",
        env = "MEDISTOCK_QUIET_HOURS",
        default_value = "21:00-08:00"
    )]
    pub quiet_hours: String,

    /// Envoie quand même pendant les heures calmes le SMS d'une RUPTURE de MITM (oui/non).
    #[arg(
        long,
        value_name = "oui|non",
        env = "MEDISTOCK_URGENT_SMS_IN_QUIET_HOURS",
        default_value = "oui"
    )]
    pub urgent_sms_in_quiet_hours: String,

    /// Rappelle dans le point quotidien, tous les N jours, un sujet CRITIQUE ou RUPTURE que
    /// personne n'a pris en compte (medistock alerts ack).
    #[arg(
        long,
        value_name = "JOURS",
        env = "MEDISTOCK_RECALL_DAYS",
        default_value = "7"
    )]
    pub recall_days: String,
}

impl PolicyArgs {
    /// The policy, every setting checked.
    pub fn policy(&self) -> anyhow::Result<AlertPolicy> {
        Ok(AlertPolicy::from_settings(|name| match name {
            "QUIET_HOURS" => Some(self.quiet_hours.clone()),
            "URGENT_SMS_IN_QUIET_HOURS" => Some(self.urgent_sms_in_quiet_hours.clone()),
            "RECALL_DAYS" => Some(self.recall_days.clone()),
            _ => None,
        })?)
    }
}
