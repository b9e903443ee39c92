//! `drbook.toml`: which fabric and which job store this host uses, and their
//! settings. Looked up as `<data-dir>/drbook.toml` unless `--config FILE` (or
//! `DRBOOK_CONFIG`) names one; a missing file means the defaults. Every key
//! can be overridden by an environment variable, and every variable by a
//! flag (see `Global`).
//!
//! ```toml
//! [fabric]
//! kind = "simulator"     # the embedded Site Recovery simulator (the only kind yet)
//! speed = 600            # its time scale: a factor, or "instant"
//!
//! [store]
//! kind = "sqlite"        # the job store (the only kind yet)
//! path = "/var/lib/drbook"   # the directory of jobs.db; default: the data dir
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};

use drbook_core::TimeScale;

/// The file's name in the data directory.
pub const FILE_NAME: &str = "drbook.toml";

/// A configuration file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    fabric: FabricSection,
    #[serde(default)]
    store: StoreSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FabricSection {
    kind: Option<String>,
    /// A factor (`600`) or `"instant"`.
    speed: Option<toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreSection {
    kind: Option<String>,
    path: Option<PathBuf>,
}

/// What flags and environment variables said, each `None` when not given.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub fabric: Option<String>,
    pub speed: Option<TimeScale>,
    pub store: Option<String>,
    pub store_path: Option<PathBuf>,
}

/// The fabric this host drives.
#[derive(Debug, Clone, PartialEq)]
pub enum FabricChoice {
    Simulator { time_scale: TimeScale },
}

/// The job store this host uses.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreChoice {
    /// `jobs.db` (and its spool) in this directory.
    Sqlite { dir: PathBuf },
}

/// The resolved configuration: flags over environment over file over
/// defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub fabric: FabricChoice,
    pub store: StoreChoice,
    /// The file it was read from, if there was one.
    pub file: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration {} is not valid: {detail}", path.display())]
    Invalid { path: PathBuf, detail: String },
}

impl Config {
    /// Resolves the configuration of `data_dir`: `file` if given (it must
    /// exist), else `<data_dir>/drbook.toml` if it exists.
    pub fn load(
        data_dir: &Path,
        file: Option<&Path>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let (path, required) = match file {
            Some(path) => (path.to_path_buf(), true),
            None => (data_dir.join(FILE_NAME), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let written: File = match &text {
            Some(text) => toml::from_str(text).map_err(|e| ConfigError::Invalid {
                path: path.clone(),
                detail: e.message().to_string(),
            })?,
            None => File::default(),
        };
        let invalid = |detail: String| ConfigError::Invalid {
            path: path.clone(),
            detail,
        };

        let speed = match (overrides.speed, &written.fabric.speed) {
            (Some(speed), _) => speed,
            (None, Some(value)) => {
                let text = match value {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                text.parse::<TimeScale>()
                    .map_err(|e| invalid(format!("[fabric] speed: {e}")))?
            }
            (None, None) => TimeScale::default(),
        };
        let fabric_kind = overrides
            .fabric
            .clone()
            .or(written.fabric.kind)
            .unwrap_or_else(|| "simulator".to_string());
        let fabric = match fabric_kind.as_str() {
            "simulator" => FabricChoice::Simulator { time_scale: speed },
            other => {
                return Err(invalid(format!(
                    "[fabric] kind `{other}` is not one this build has; use `simulator`"
                )))
            }
        };

        let store_kind = overrides
            .store
            .clone()
            .or(written.store.kind)
            .unwrap_or_else(|| "sqlite".to_string());
        let store = match store_kind.as_str() {
            "sqlite" => StoreChoice::Sqlite {
                dir: overrides
                    .store_path
                    .clone()
                    .or(written.store.path)
                    .unwrap_or_else(|| data_dir.to_path_buf()),
            },
            other => {
                return Err(invalid(format!(
                    "[store] kind `{other}` is not one this build has; use `sqlite`"
                )))
            }
        };
        Ok(Config {
            fabric,
            store,
            file: text.map(|_| path),
        })
    }

    /// How fast the fabric's time runs (1 for a real fabric).
    pub fn time_scale(&self) -> TimeScale {
        match self.fabric {
            FabricChoice::Simulator { time_scale } => time_scale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: Option<&str>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        if let Some(text) = text {
            std::fs::write(dir.path().join(FILE_NAME), text).unwrap();
        }
        Config::load(dir.path(), None, overrides).map(|mut c| {
            // The temporary directory goes away: compare what is not a path.
            c.file = c.file.map(|_| PathBuf::from(FILE_NAME));
            let StoreChoice::Sqlite { dir: d } = &mut c.store;
            if d == dir.path() {
                *d = PathBuf::from("<data-dir>");
            }
            c
        })
    }

    #[test]
    fn no_file_means_the_simulator_at_real_speed_and_sqlite_in_the_data_dir() {
        let config = load(None, &Overrides::default()).unwrap();
        assert_eq!(
            config,
            Config {
                fabric: FabricChoice::Simulator {
                    time_scale: TimeScale::Factor(1.0)
                },
                store: StoreChoice::Sqlite {
                    dir: PathBuf::from("<data-dir>")
                },
                file: None,
            }
        );
    }

    #[test]
    fn the_file_is_read_and_overrides_win_over_it() {
        let text = "[fabric]\nkind = \"simulator\"\nspeed = 600\n[store]\npath = \"/srv/drbook\"\n";
        let config = load(Some(text), &Overrides::default()).unwrap();
        assert_eq!(config.time_scale(), TimeScale::Factor(600.0));
        assert_eq!(
            config.store,
            StoreChoice::Sqlite {
                dir: PathBuf::from("/srv/drbook")
            }
        );
        assert_eq!(config.file, Some(PathBuf::from(FILE_NAME)));

        let overrides = Overrides {
            speed: Some(TimeScale::Instant),
            store_path: Some(PathBuf::from("/elsewhere")),
            ..Overrides::default()
        };
        let config = load(Some(text), &overrides).unwrap();
        assert_eq!(config.time_scale(), TimeScale::Instant);
        assert_eq!(
            config.store,
            StoreChoice::Sqlite {
                dir: PathBuf::from("/elsewhere")
            }
        );
        let instant = load(
            Some("[fabric]\nspeed = \"instant\"\n"),
            &Overrides::default(),
        );
        assert_eq!(instant.unwrap().time_scale(), TimeScale::Instant);
    }

    #[test]
    fn bad_files_name_the_key_and_the_fix() {
        let cases = [
            ("[fabric]\nkind = \"azure\"\n", "use `simulator`"),
            ("[store]\nkind = \"postgres\"\n", "use `sqlite`"),
            ("[fabric]\nspeed = -3\n", "[fabric] speed"),
            ("[fabric]\nsped = 3\n", "sped"),
            ("[stores]\n", "stores"),
            ("not toml", "drbook.toml is not valid"),
        ];
        for (text, expected) in cases {
            let error = load(Some(text), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        let overrides = Overrides {
            store: Some("redis".into()),
            ..Overrides::default()
        };
        let error = load(None, &overrides).unwrap_err().to_string();
        assert!(error.contains("`redis`"), "{error}");
    }

    #[test]
    fn a_named_file_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let error = Config::load(dir.path(), Some(&missing), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(error.contains("cannot read the configuration"), "{error}");
        assert!(error.contains("nope.toml"), "{error}");
    }
}
