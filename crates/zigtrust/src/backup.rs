//! `zigtrust backup export|import`: move a network between a zigtrust store and other
//! coordinators (zigpy, Zigbee2MQTT) through the Open ZigBee Coordinator Backup JSON format.
//! The format itself lives in `zigtrust_store::backup`; this is the file handling around it.

use crate::exit;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use zigtrust_store::{backup, Store};
use zigtrust_tc::model::Millis;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    pub command: BackupCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum BackupCommand {
    /// Write the store's network as an Open ZigBee Coordinator Backup (JSON). It contains every
    /// key: keep it private.
    Export(ExportArgs),
    /// Restore a backup into a store (created if missing), in one transaction: on any error the
    /// store is unchanged. Refuses a store that holds a different network.
    Import(ImportArgs),
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The zigtrust store (SQLite file); must exist.
    #[arg(long)]
    pub db: PathBuf,
    /// Write here (mode 0600, replaced atomically) instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The zigtrust store (SQLite file); created if it does not exist.
    #[arg(long)]
    pub db: PathBuf,
    /// The backup JSON file (`-` for stdin).
    pub backup: PathBuf,
}

pub fn run(args: &Args, out: &mut dyn Write) -> i32 {
    let r = match &args.command {
        BackupCommand::Export(a) => export(a, out).map_err(|e| ("export", e)),
        BackupCommand::Import(a) => import(a, out).map_err(|e| ("import", e)),
    };
    match r {
        Ok(()) => exit::OK,
        Err((cmd, e)) => {
            eprintln!("zigtrust backup {cmd}: {e}");
            exit::BAD_INPUT
        }
    }
}

fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

fn export(a: &ExportArgs, out: &mut dyn Write) -> Result<(), String> {
    let store = Store::open_existing(&a.db).map_err(|e| e.to_string())?;
    let snap = store.snapshot().map_err(|e| e.to_string())?;
    let v = backup::export(&snap, now_ms(), env!("CARGO_PKG_VERSION"))
        .map_err(|e| format!("{}: {e}", a.db.display()))?;
    let mut text = serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?;
    text.push('\n');
    match &a.out {
        None => out.write_all(text.as_bytes()).map_err(|e| format!("writing stdout: {e}")),
        Some(path) => write_private(path, text.as_bytes())
            .map_err(|e| format!("{}: cannot write: {e}", path.display())),
    }
}

/// Writes via a temporary file in the same directory and renames it into place, so a reader
/// never sees half a backup; the file is created owner-only since it holds every key.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let result = (|| {
        let mut f = o.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn import(a: &ImportArgs, out: &mut dyn Write) -> Result<(), String> {
    let mut text = String::new();
    let read = if a.backup.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(&a.backup).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| format!("{}: cannot read: {e}", a.backup.display()))?;
    // Validate the whole backup before touching (or creating) the store.
    let writes = backup::import(&text, now_ms())
        .map_err(|e| format!("{}: invalid backup: {e}", a.backup.display()))?;
    let existed = a.db.exists();
    let mut store = Store::open(&a.db).map_err(|e| e.to_string())?;
    let result = (|| {
        let current = store.snapshot().map_err(|e| e.to_string())?;
        let incoming = writes.iter().find_map(|w| match w {
            zigtrust_tc::model::StoreWrite::Network(n) => Some(n),
            _ => None,
        });
        if let (Some(cur), Some(new)) = (&current.network, incoming) {
            if (cur.extended_pan_id, cur.tc_ieee) != (new.extended_pan_id, new.tc_ieee) {
                return Err(format!(
                    "{}: holds network {} (coordinator {}), the backup is of network {} \
                     (coordinator {}); refusing to mix them (import into a new store)",
                    a.db.display(),
                    zigtrust_wire::ExtAddr(cur.extended_pan_id),
                    cur.tc_ieee,
                    zigtrust_wire::ExtAddr(new.extended_pan_id),
                    new.tc_ieee
                ));
            }
        }
        store.apply(&writes).map_err(|e| format!("{}: {e}", a.db.display()))
    })();
    if let Err(e) = result {
        if !existed {
            // Do not leave an empty store behind for a failed import.
            drop(store);
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", a.db.display()));
            }
        }
        return Err(e);
    }
    let devices =
        writes.iter().filter(|w| matches!(w, zigtrust_tc::model::StoreWrite::Device(_))).count();
    writeln!(out, "imported {} into {}: {devices} devices", a.backup.display(), a.db.display())
        .map_err(|e| format!("writing stdout: {e}"))
}
