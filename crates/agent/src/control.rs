//! The control plane of the configured Elasticsearch/OpenSearch output, as
//! `gomon test output` and `gomon setup` use it: which server it is and
//! whether gomon supports it, whether it has data streams, and the index
//! template installed idempotently.

use gomon_sink::{Cluster, ServerKind, SinkError, TargetNaming, TemplateOutcome};

use crate::config::Config;
use crate::output::{OutputError, control_plane, template_for};

/// Why a control-plane step failed. Messages never carry credentials.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The configuration has no `output.elasticsearch`.
    #[error("no output.elasticsearch: nothing to set up (the file store needs none)")]
    NoElasticsearch,
    /// `output.elasticsearch` cannot be used.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// The server did not answer as needed, or runs a version gomon does
    /// not support.
    #[error(transparent)]
    Server(#[from] SinkError),
}

/// The server behind the configured output, and where documents go there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReport {
    /// The node URL asked (without credentials).
    pub url: String,
    /// Elasticsearch or OpenSearch.
    pub kind: ServerKind,
    /// Its version, e.g. `9.5.4`.
    pub version: String,
    /// The configured index (the data stream's name, or the prefix of the
    /// dated indices).
    pub index: String,
}

/// What `gomon test output` found on the configured Elasticsearch output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputCheck {
    /// The server.
    pub server: ServerReport,
    /// Whether it has the data-stream API (else documents go to dated
    /// indices). A failed probe counts as no.
    pub data_streams: bool,
}

/// What `gomon setup` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupReport {
    /// The server.
    pub server: ServerReport,
    /// The template's name.
    pub template_name: String,
    /// The template's version.
    pub template_version: u64,
    /// Installed, replaced, or kept (and why).
    pub outcome: TemplateOutcome,
    /// A data stream, or dated indices.
    pub naming: TargetNaming,
}

/// The control-plane client of the configured Elasticsearch output and its
/// index; `None` when the output is not Elasticsearch.
pub fn cluster_of(config: &Config) -> Result<Option<(Cluster, String)>, OutputError> {
    config
        .output
        .elasticsearch
        .as_ref()
        .map(|es| control_plane(es, &crate::default_data_dir()))
        .transpose()
}

/// Asks the server what it is and refuses one gomon does not support.
async fn supported_server(cluster: &Cluster, index: &str) -> Result<ServerReport, ControlError> {
    let info = cluster.server_info().await?;
    info.check_supported(cluster.url())?;
    Ok(ServerReport {
        url: cluster.url().to_owned(),
        kind: info.kind,
        version: info.version,
        index: index.to_owned(),
    })
}

/// Reaches the configured Elasticsearch output: server, support, data
/// streams. `None` when the output is not Elasticsearch.
pub async fn check_output(config: &Config) -> Result<Option<OutputCheck>, ControlError> {
    let Some((cluster, index)) = cluster_of(config)? else {
        return Ok(None);
    };
    let server = supported_server(&cluster, &index).await?;
    let data_streams = cluster.supports_data_streams().await.unwrap_or(false);
    Ok(Some(OutputCheck {
        server,
        data_streams,
    }))
}

/// Installs gomon's index template on the configured Elasticsearch output
/// (idempotent; a newer or foreign template is kept unless `overwrite` or
/// `setup.template.overwrite`).
pub async fn install_template(
    config: &Config,
    overwrite: bool,
) -> Result<SetupReport, ControlError> {
    let (cluster, index) = cluster_of(config)?.ok_or(ControlError::NoElasticsearch)?;
    let server = supported_server(&cluster, &index).await?;
    let template = template_for(&index);
    let (naming, outcome) = cluster
        .set_up(&template, overwrite || config.setup.template_overwrite)
        .await?;
    Ok(SetupReport {
        server,
        template_name: template.name.clone(),
        template_version: template.version,
        outcome,
        naming,
    })
}

impl SetupReport {
    /// True when documents go to dated indices (`<index>-YYYY.MM.DD`),
    /// false for a data stream.
    pub fn dated_indices(&self) -> bool {
        matches!(self.naming, TargetNaming::DatedIndices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FileFormat;

    fn file_store_config() -> Config {
        let yaml = "modules:\n- module: golang\n  hosts: [\"127.0.0.1:6060\"]\noutput.file.path: /tmp/gomon-control-test\nhttp.enabled: false\n";
        Config::parse(yaml, FileFormat::Yaml, "test.yml").expect("a valid configuration")
    }

    #[tokio::test]
    async fn setup_without_an_elasticsearch_output_says_there_is_nothing_to_set_up() {
        let error = install_template(&file_store_config(), false)
            .await
            .expect_err("no server to set up");
        assert!(matches!(error, ControlError::NoElasticsearch), "{error:?}");
        assert_eq!(
            error.to_string(),
            "no output.elasticsearch: nothing to set up (the file store needs none)"
        );
    }

    #[tokio::test]
    async fn checking_a_file_store_output_asks_no_server() {
        assert_eq!(
            check_output(&file_store_config()).await.expect("no error"),
            None
        );
        assert!(
            cluster_of(&file_store_config())
                .expect("no error")
                .is_none()
        );
    }
}
