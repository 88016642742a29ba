//! rust-sqlite: the TechEmpower database tests (/db, /queries, /fortunes,
//! /updates) on hyper 0.14 (tokio current_thread runtime: one thread runs
//! the HTTP side) with rusqlite over the system libsqlite3 (Debian
//! librust-rusqlite-dev). rusqlite is synchronous, so each request's
//! database work runs in one `spawn_blocking` closure on tokio's blocking
//! pool (at most 4 threads, each with its own connection and statement
//! cache), the way hyper users put a blocking driver behind an async server.
//! Usage: rust-sqlite PORT DB. The database is created and seeded (World
//! 10,000 rows, Fortune 12 rows) when its tables are missing, with the
//! schema of examples/tfb, in WAL mode with synchronous=NORMAL.
use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::OnceLock;

use hyper::header::{HeaderValue, CONTENT_TYPE, SERVER};
use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Request, Response, Server, StatusCode};
use rusqlite::{params, Connection};
use serde::Serialize;

#[derive(Serialize, Clone, Copy)]
struct World {
    id: i32,
    #[serde(rename = "randomNumber")]
    random_number: i32,
}

static DB_PATH: OnceLock<String> = OnceLock::new();

thread_local! {
    static CONN: RefCell<Option<Connection>> = RefCell::new(None);
    static RNG: Cell<u64> = Cell::new(0);
}

fn open(path: &str) -> Connection {
    let c = Connection::open(path).expect("open database");
    c.busy_timeout(std::time::Duration::from_millis(5000)).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.pragma_update(None, "synchronous", "NORMAL").unwrap();
    c
}

/// Runs `f` with this blocking thread's connection (opened on first use).
fn with_conn<R>(f: impl FnOnce(&mut Connection) -> rusqlite::Result<R>) -> rusqlite::Result<R> {
    CONN.with(|cell| {
        let mut slot = cell.borrow_mut();
        let conn = slot.get_or_insert_with(|| open(DB_PATH.get().unwrap()));
        f(conn)
    })
}

/// 1..=10000 from a per-thread xorshift generator (no rand crate needed).
fn random_id() -> i32 {
    RNG.with(|r| {
        let mut x = r.get();
        if x == 0 {
            x = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64)
                ^ (r as *const _ as u64)
                | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        (x % 10000) as i32 + 1
    })
}

fn seed(c: &Connection) {
    let n: i64 = c
        .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'World'", [], |r| r.get(0))
        .unwrap();
    if n > 0 {
        return;
    }
    c.execute_batch(
        "CREATE TABLE World(id INTEGER PRIMARY KEY, randomNumber INTEGER NOT NULL);
         CREATE TABLE Fortune(id INTEGER PRIMARY KEY, message TEXT NOT NULL);
         INSERT INTO World(id, randomNumber) WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10000)
           SELECT x, abs(random()) % 10000 + 1 FROM n;",
    )
    .unwrap();
    let msgs = [
        "fortune: No such file or directory",
        "A computer scientist is someone who fixes things that aren't broken.",
        "After enough decimal places, nobody gives a damn.",
        "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
        "A computer program does what you tell it to do, not what you want it to do.",
        "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
        "Any program that runs right is obsolete.",
        "A list is only as strong as its weakest link. — Donald Knuth",
        "Feature: A bug with seniority.",
        "Computers make very fast, very accurate mistakes.",
        "<script>alert(\"This should not be displayed in a browser alert box.\");</script>",
        "フレームワークのベンチマーク",
    ];
    for (i, m) in msgs.iter().enumerate() {
        c.execute("INSERT INTO Fortune(id, message) VALUES (?, ?)", params![i as i64 + 1, m]).unwrap();
    }
}

fn read_world(c: &Connection) -> rusqlite::Result<World> {
    let mut st = c.prepare_cached("SELECT id, randomNumber FROM World WHERE id = ?")?;
    st.query_row([random_id()], |r| Ok(World { id: r.get(0)?, random_number: r.get(1)? }))
}

fn queries_param(req: &Request<Body>) -> usize {
    let n = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("queries=")))
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(1);
    n.clamp(1, 500) as usize
}

fn escape_html(s: &str, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
}

fn reply(body: Vec<u8>, content_type: &'static str) -> Response<Body> {
    let mut res = Response::new(Body::from(body));
    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut().insert(SERVER, HeaderValue::from_static("rust-sqlite"));
    res
}

fn status(code: StatusCode, msg: String) -> Response<Body> {
    let mut res = Response::new(Body::from(msg));
    *res.status_mut() = code;
    res
}

async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> rusqlite::Result<R> + Send + 'static,
) -> Result<R, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

async fn handle(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let res = match req.uri().path() {
        "/db" => blocking(|| with_conn(|c| read_world(c)))
            .await
            .map(|w| reply(serde_json::to_vec(&w).unwrap(), "application/json")),
        "/queries" => {
            let n = queries_param(&req);
            blocking(move || with_conn(|c| (0..n).map(|_| read_world(c)).collect::<rusqlite::Result<Vec<_>>>()))
                .await
                .map(|ws| reply(serde_json::to_vec(&ws).unwrap(), "application/json"))
        }
        "/fortunes" => blocking(|| {
            with_conn(|c| {
                let mut st = c.prepare_cached("SELECT id, message FROM Fortune")?;
                let rows = st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
        })
        .await
        .map(|mut fs| {
            fs.push((0, "Additional fortune added at request time.".to_string()));
            fs.sort_by(|a, b| a.1.cmp(&b.1));
            let mut html = String::with_capacity(2048);
            html.push_str("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>");
            for (id, msg) in &fs {
                html.push_str("<tr><td>");
                html.push_str(&id.to_string());
                html.push_str("</td><td>");
                escape_html(msg, &mut html);
                html.push_str("</td></tr>");
            }
            html.push_str("</table></body></html>");
            reply(html.into_bytes(), "text/html; charset=utf-8")
        }),
        "/updates" => {
            let n = queries_param(&req);
            blocking(move || {
                with_conn(|c| {
                    let mut ws = (0..n).map(|_| read_world(c)).collect::<rusqlite::Result<Vec<_>>>()?;
                    for w in ws.iter_mut() {
                        w.random_number = random_id();
                    }
                    // One transaction for the batch of UPDATEs, as fastjson-tfb does.
                    let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    {
                        let mut st = tx.prepare_cached("UPDATE World SET randomNumber = ? WHERE id = ?")?;
                        for w in &ws {
                            st.execute(params![w.random_number, w.id])?;
                        }
                    }
                    tx.commit()?;
                    Ok(ws)
                })
            })
            .await
            .map(|ws| reply(serde_json::to_vec(&ws).unwrap(), "application/json"))
        }
        _ => Ok(status(StatusCode::NOT_FOUND, String::new())),
    };
    Ok(res.unwrap_or_else(|e| status(StatusCode::INTERNAL_SERVER_ERROR, e)))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).expect("usage: rust-sqlite PORT DB");
    let path = args.next().expect("usage: rust-sqlite PORT DB");
    seed(&open(&path));
    DB_PATH.set(path).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()
        .unwrap();
    rt.block_on(async move {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let make = make_service_fn(|_| async { Ok::<_, Infallible>(service_fn(handle)) });
        if let Err(e) = Server::bind(&addr).serve(make).await {
            eprintln!("server error: {e}");
        }
    });
}
