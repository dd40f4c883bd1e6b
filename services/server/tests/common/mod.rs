//! A `tributary serve` process for tests that need a real server: started on a free port,
//! waited for until ready, killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Server {
    child: Child,
    pub url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn start(database_url: &str, client: &reqwest::Client) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            database_url,
        ])
        .env("TRIBUTARY_LOG", "warn")
        .env("TRIBUTARY_SEARCH__IN_MEMORY", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tributary serve");
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .get(format!("{}/ready", server.url))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "server did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server
}

/// PUTs JSON with a token; fails the test unless the answer is a success.
pub async fn put(client: &reqwest::Client, server: &Server, token: &str, path: &str, body: Value) {
    let res = client
        .put(format!("{}{path}", server.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success(),
        "{path}: {}",
        res.text().await.unwrap()
    );
}

/// GETs JSON without a token (anonymous reads are on by default).
pub async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}
