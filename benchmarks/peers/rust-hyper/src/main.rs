//! rust-hyper: /plaintext and /json on hyper 0.14 with a tokio
//! current_thread runtime (one thread) and serde_json.
//! Usage: rust-hyper PORT
use std::convert::Infallible;
use std::net::SocketAddr;

use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Request, Response, Server, StatusCode};
use serde::Serialize;

#[derive(Serialize)]
struct Message<'a> {
    message: &'a str,
}

async fn handle(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let (body, content_type) = match req.uri().path() {
        "/plaintext" => (Body::from("Hello, World!"), "text/plain"),
        "/json" => {
            let json = serde_json::to_vec(&Message { message: "Hello, World!" }).unwrap();
            (Body::from(json), "application/json")
        }
        _ => {
            let mut res = Response::new(Body::empty());
            *res.status_mut() = StatusCode::NOT_FOUND;
            return Ok(res);
        }
    };
    let mut res = Response::new(body);
    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(res)
}

fn main() {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).expect("usage: rust-hyper PORT");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let make = make_service_fn(|_| async { Ok::<_, Infallible>(service_fn(handle)) });
        // Pipelined requests get their responses flushed together (hyper's
        // documented option for pipelining clients).
        let server = Server::bind(&addr).http1_pipeline_flush(true).serve(make);
        if let Err(e) = server.await {
            eprintln!("server error: {e}");
        }
    });
}
