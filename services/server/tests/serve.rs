//! The server on a real socket: it answers, and stops cleanly when its shutdown fires.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tributary_server::config::Config;

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn serves_on_a_listener_and_drains_on_shutdown() {
    let scratch = tributary_store::testing::sqlite().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = tributary_server::app::state(scratch.store.clone(), &Config::default())
        .await
        .unwrap();
    let server = tokio::spawn(async move {
        tributary_server::app::serve(state, &Config::default(), listener, async {
            let _ = stopped.await;
        })
        .await
    });
    let response = http_get(addr, "/ready").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"backend\":\"sqlite\""));
    stop.send(()).unwrap();
    let finished = tokio::time::timeout(Duration::from_secs(10), server).await;
    assert!(
        matches!(finished, Ok(Ok(Ok(())))),
        "the server stops when asked"
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "and no longer accepts connections"
    );
}
