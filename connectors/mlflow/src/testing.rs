//! A real MLflow tracking server for tests, started (and seeded) by
//! `scripts/mlflow-server` and stopped when dropped.

use std::path::Path;
use std::process::Command;

pub struct MlflowServer {
    pub url: String,
    pid: u32,
}

impl MlflowServer {
    /// Starts a fresh seeded MLflow 3 server: ~20 s, plus ~70 s the first time (the venv
    /// install).
    pub fn start() -> MlflowServer {
        Self::start_major(3)
    }

    /// As [`MlflowServer::start`], of MLflow `major` (2 or 3).
    pub fn start_major(major: u8) -> MlflowServer {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let output = Command::new(root.join("scripts/mlflow-server"))
            .env("MLFLOW_MAJOR", major.to_string())
            .current_dir(&root)
            .output()
            .expect("scripts/mlflow-server runs");
        assert!(
            output.status.success(),
            "scripts/mlflow-server failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let value = |key: &str| {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("scripts/mlflow-server printed no {key}: {stdout}"))
                .to_owned()
        };
        MlflowServer {
            url: value("MLFLOW_URL="),
            pid: value("MLFLOW_PID=").parse().expect("a pid"),
        }
    }
}

impl Drop for MlflowServer {
    /// Stops the server and its workers, and waits until the port no longer answers.
    fn drop(&mut self) {
        let pid = self.pid.to_string();
        let _ = Command::new("pkill").args(["-TERM", "-P", &pid]).status();
        let _ = Command::new("kill").arg(&pid).status();
        let address = self.url.trim_start_matches("http://").to_owned();
        for _ in 0..100 {
            if std::net::TcpStream::connect(&address).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}
