//! drbook-report: evidence that a recovery worked within its objectives, as
//! auditors (ISO 22301, SOC 2, DORA) ask DR teams to show it. A report is
//! made from what drbook already keeps of a job: its journal says what it
//! started and how each operation ended, the fabric's audit trail confirms
//! it, the job's record says what ran it and why it was let in. Reports are
//! signed (ed25519) so that any later edit shows.
//!
//! Layout:
//! - `runs`: a job's journal read back as its operations, refusals and one
//!   row per VM (shared with `drbook run`'s summary)
//! - `model`: the [`Report`] built from a job's record, journal, streams,
//!   decisions and audit trail (the JSON format is this model)
//! - `document`: the report's sections, laid out once for HTML and Markdown
//! - `timeline`: the run's SVG timeline, on its own for the web console
//! - `html`, `markdown`, `pdf` (headless Chromium): the renderers
//! - `escape`: every value put into markup
//! - `signature`: the signature block at the end of each file
//! - `testing` (feature): a synthetic job of any size

mod document;
mod escape;
mod html;
mod markdown;
mod model;
pub mod pdf;
pub mod runs;
pub mod signature;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timeline;

pub use model::{
    span, ApprovalRecord, AuditEntry, Bar, Check, Inputs, JobInfo, ModuleInfo, PlanInfo, Report,
    Verdict, VmResult,
};
pub use signature::{Signed, VerifyError};

use std::path::Path;

use drbook_signing::SigningKey;

/// The formats a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Html,
    Pdf,
    Json,
    Markdown,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Pdf(#[from] pdf::PdfError),
    #[error(transparent)]
    Sign(#[from] signature::SignError),
    #[error("cannot write the report as JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl Report {
    /// The report in `format`, unsigned; `chromium` prints the PDF.
    pub fn render(&self, format: Format, chromium: Option<&Path>) -> Result<Vec<u8>, RenderError> {
        Ok(match format {
            Format::Html => html::render(self).into_bytes(),
            Format::Markdown => markdown::render(self).into_bytes(),
            // The signature is the document's last member (see `signature`).
            Format::Json => {
                let mut out = b"{\n\"report\": ".to_vec();
                serde_json::to_writer_pretty(&mut out, self)?;
                out
            }
            Format::Pdf => {
                let mut bytes = pdf::print(&html::render(self), &pdf::chromium(chromium)?)?;
                if !bytes.ends_with(b"\n") {
                    bytes.push(b'\n');
                }
                bytes
            }
        })
    }

    /// The report in `format`, signed by `key`.
    pub fn signed(
        &self,
        format: Format,
        chromium: Option<&Path>,
        key: &SigningKey,
    ) -> Result<Vec<u8>, RenderError> {
        let body = self.render(format, chromium)?;
        let carrier = match format {
            Format::Html | Format::Markdown => signature::Carrier::Comment,
            Format::Pdf => signature::Carrier::Pdf,
            Format::Json => signature::Carrier::Json,
        };
        Ok(signature::sign(&body, carrier, key)?)
    }
}
