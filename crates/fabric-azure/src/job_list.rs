//! The vault's Site Recovery jobs (`replicationJobs`): Azure's history of
//! what was done to the vault, which `drbook fabric jobs` shows where the
//! simulator has `drbook fabric history`.

use crate::error::ArmError;
use crate::fabric_impl::AzureFabric;
use crate::wire;
use chrono::{DateTime, SecondsFormat, Utc};
use drbook_core::fabric::FabricError;

/// `ReplicationJobs_List`'s `$filter` for jobs started at or after `since`:
/// the specification says only "OData filter options"; Azure's own clients
/// send `JobQueryParameter`'s fields as OData (`startTime eq '...'`, a
/// lower bound).
pub fn since_filter(since: DateTime<Utc>) -> String {
    format!(
        "startTime eq '{}'",
        since.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

impl AzureFabric {
    /// The vault's jobs, newest first, every page (`nextLink`); with
    /// `since`, those started at or after it. The bound is also applied
    /// here, so the answer holds whether or not the service applies the
    /// filter.
    pub async fn jobs(&self, since: Option<DateTime<Utc>>) -> Result<Vec<wire::Job>, FabricError> {
        let mut url = self
            .arm()
            .url(&format!("{}/replicationJobs", self.vault_path()))
            .map_err(ArmError::into_fabric)?;
        if let Some(since) = since {
            url.query_pairs_mut()
                .append_pair("$filter", &since_filter(since));
        }
        let mut jobs: Vec<wire::Job> = self
            .arm()
            .list(url.as_str())
            .await
            .map_err(ArmError::into_fabric)?;
        if let Some(since) = since {
            jobs.retain(|job| job.properties.start_time.is_some_and(|t| t >= since));
        }
        jobs.sort_by_key(|job| std::cmp::Reverse(job.properties.start_time));
        Ok(jobs)
    }
}
