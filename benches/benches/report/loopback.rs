//! A tiny HTTP/1.1 server on 127.0.0.1 for the transport and wait-latency parts: its own thread
//! and tokio current-thread runtime, keep-alive connections, requests without bodies (the
//! benchmarks only GET). Each request's head goes to a [`Handler`], which writes the whole answer
//! (a fixed body with `Content-Length`, or a chunked stream it holds open). The same server
//! answers every client of a table, so its cost is the same for all of them.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The request line of one request (the benchmarks' clients send no body).
pub struct Head {
    pub path: String,
    pub query: String,
}

impl Head {
    /// The value of query parameter `name`, if present (not percent-decoded).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.split('&').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    }
}

pub type Answer<'a> = Pin<Box<dyn Future<Output = io::Result<()>> + Send + 'a>>;

/// Answers one request by writing to the connection.
pub trait Handler: Send + Sync + 'static {
    fn handle<'a>(&'a self, head: Head, conn: &'a mut TcpStream) -> Answer<'a>;
}

/// Write a complete answer with a `Content-Length`.
pub async fn respond(conn: &mut TcpStream, status: u16, headers: &[(&str, &str)], body: &[u8]) -> io::Result<()> {
    let mut out = format!("HTTP/1.1 {status} {}\r\ncontent-length: {}\r\n", reason(status), body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    conn.write_all(&bytes).await?;
    conn.flush().await
}

/// Start a chunked answer (then [`chunk`] ...).
pub async fn start_chunked(conn: &mut TcpStream, headers: &[(&str, &str)]) -> io::Result<()> {
    let mut out = String::from("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    conn.write_all(out.as_bytes()).await?;
    conn.flush().await
}

/// Write one chunk of a chunked answer and flush it.
pub async fn chunk(conn: &mut TcpStream, data: &[u8]) -> io::Result<()> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    conn.write_all(&out).await?;
    conn.flush().await
}

/// Hold the connection until the client closes it (or `limit` passes); what the server does with
/// a stream or blocking query nothing will change any more.
pub async fn hold(conn: &mut TcpStream, limit: Duration) {
    let mut buf = [0u8; 256];
    let _ = tokio::time::timeout(limit, async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Status",
    }
}

/// Serve `handler` on a fresh port of 127.0.0.1 from a thread of its own; returns the address.
/// The thread lives as long as the process.
pub fn serve<H: Handler>(handler: H) -> SocketAddr {
    let handler = Arc::new(handler);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("loopback-server".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let Ok((conn, _)) = listener.accept().await else { continue };
                    let _ = conn.set_nodelay(true);
                    tokio::spawn(connection(conn, handler.clone()));
                }
            });
        })
        .unwrap();
    rx.recv().unwrap()
}

async fn connection<H: Handler>(mut conn: TcpStream, handler: Arc<H>) {
    let mut buf = Vec::with_capacity(4096);
    loop {
        // Read one request head.
        let end = loop {
            if let Some(i) = memchr::memmem::find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let target = head.split(' ').nth(1).unwrap_or("/");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let head = Head { path: path.to_owned(), query: query.to_owned() };
        if handler.handle(head, &mut conn).await.is_err() {
            return;
        }
    }
}
