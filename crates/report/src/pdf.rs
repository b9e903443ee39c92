//! The PDF: the HTML page printed by headless Chromium, which lays it out
//! exactly as a browser shows it (tables, the SVG timeline). Chromium runs
//! with its network cut (an unreachable proxy and no name resolution): the
//! page needs nothing from outside, and a report must not call out. The
//! PDF is untagged (no structure tree): see `print` for why.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("no Chromium to print the PDF with: none of {tried} is on PATH; install Debian's `chromium` package (apt-get install chromium), or name the browser in drbook.toml (`[report] chromium = \"/path/to/chromium\"`)")]
    NoChromium { tried: String },
    #[error("cannot print the PDF: {0}")]
    Io(#[from] std::io::Error),
    #[error("{chromium} did not print the PDF (exit {status}): {stderr}")]
    Failed {
        chromium: String,
        status: String,
        stderr: String,
    },
}

/// The names Chromium goes by on PATH, in the order tried.
const NAMES: [&str; 4] = ["chromium", "chromium-browser", "google-chrome", "chrome"];

/// The browser to print with: `configured`, else the first of [`NAMES`] on PATH.
pub fn chromium(configured: Option<&Path>) -> Result<PathBuf, PdfError> {
    if let Some(path) = configured {
        return Ok(path.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    NAMES
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| PdfError::NoChromium {
            tried: NAMES.join(", "),
        })
}

/// `html` printed to PDF by `chromium`.
pub fn print(html: &str, chromium: &Path) -> Result<Vec<u8>, PdfError> {
    let dir = tempfile::tempdir()?;
    let page = dir.path().join("report.html");
    let pdf = dir.path().join("report.pdf");
    std::fs::write(&page, html)?;
    let output = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-extensions",
            "--no-first-run",
            "--no-pdf-header-footer",
            // An untagged PDF: Chromium's structure tree for a 1,000-row
            // table made the file 17 times larger (3.9 MB) and its print
            // 1.5 s slower; the page's text, order and links stay as they
            // are (pdftotext reads it), and the HTML report is the one for
            // screen readers.
            "--disable-pdf-tagging",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PdfError::NoChromium {
                tried: chromium.display().to_string(),
            },
            _ => PdfError::Io(e),
        })?;
    match std::fs::read(&pdf) {
        Ok(bytes) if bytes.starts_with(b"%PDF") => Ok(bytes),
        _ => Err(PdfError::Failed {
            chromium: chromium.display().to_string(),
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr)
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join(" / "),
        }),
    }
}
