//! `tributary lineage validate|push`: the CI side of lineage documents.
//!
//! Exit codes: 0 all documents fine (pushed); 1 a document is invalid (the fix is in the
//! file); 2 the server could not be reached, refused the token or failed (the fix is not
//! in the file). Transient failures are retried with backoff before giving up.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tributary_documents::{DocumentError, PlatformRule, Problem};

pub const OK: i32 = 0;
pub const INVALID: i32 = 1;
pub const FAILED: i32 = 2;

/// Attempts per document when the server is unreachable or answers 408/429/5xx.
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A readable diff.
    Text,
    /// The server's JSON, one document per line.
    Json,
}

/// Checks documents offline: the format's rules (with lines) and the JSON Schema.
pub fn validate(files: &[PathBuf], platforms: &[PlatformRule]) -> i32 {
    let mut code = OK;
    for file in files {
        let Some(text) = read(file) else {
            code = code.max(FAILED);
            continue;
        };
        let mut problems = match tributary_documents::parse(&text, platforms) {
            Ok(_) => Vec::new(),
            Err(DocumentError::Syntax {
                line,
                column,
                message,
            }) => vec![Problem {
                line,
                column,
                path: String::new(),
                message,
            }],
            Err(DocumentError::Invalid(problems)) => problems,
        };
        if problems.is_empty()
            && let Ok(value) = serde_saphyr::from_str::<Value>(&text)
        {
            problems = tributary_documents::check_schema(&value);
        }
        if problems.is_empty() {
            println!("{}: ok", file.display());
        } else {
            for p in &problems {
                println!("{}", problem_line(file, p));
            }
            code = code.max(INVALID);
        }
    }
    code
}

/// The file's text, or `None` after saying why it cannot be read.
fn read(file: &Path) -> Option<String> {
    std::fs::read_to_string(file)
        .inspect_err(|err| eprintln!("{}: cannot read: {err}", file.display()))
        .ok()
}

fn problem_line(file: &Path, p: &Problem) -> String {
    let place = if p.line > 0 {
        format!("{}:{}:{}", file.display(), p.line, p.column)
    } else {
        file.display().to_string()
    };
    if p.path.is_empty() {
        format!("{place}: {}", p.message)
    } else {
        format!("{place}: {}: {}", p.path, p.message)
    }
}

/// Pushes documents to `server` with the token in `TRIBUTARY_TOKEN`.
pub async fn push(
    files: &[PathBuf],
    server: &str,
    token: Option<&str>,
    dry_run: bool,
    format: OutputFormat,
) -> i32 {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        eprintln!("set TRIBUTARY_TOKEN to an editor token (tributary token create --role editor)");
        return FAILED;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            eprintln!("cannot set up HTTP: {err}");
            return FAILED;
        }
    };
    let url = format!(
        "{}/api/v1/lineage/documents?dry_run={dry_run}",
        server.trim_end_matches('/')
    );
    let mut code = OK;
    for file in files {
        let Some(text) = read(file) else {
            code = code.max(FAILED);
            continue;
        };
        code = code.max(push_one(&client, &url, token, file, text, dry_run, format).await);
    }
    code
}

async fn push_one(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    file: &Path,
    text: String,
    dry_run: bool,
    format: OutputFormat,
) -> i32 {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let sent = client
            .post(url)
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/yaml")
            .body(text.clone())
            .send()
            .await;
        let transient = match sent {
            Ok(res) => {
                let status = res.status();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                if status.is_success() {
                    report_diff(file, &body, dry_run, format);
                    return OK;
                }
                if matches!(
                    status,
                    StatusCode::BAD_REQUEST
                        | StatusCode::UNPROCESSABLE_ENTITY
                        | StatusCode::PAYLOAD_TOO_LARGE
                ) {
                    report_problems(file, &body, format);
                    return INVALID;
                }
                let message = body["error"]["message"].as_str().unwrap_or("no message");
                if !(status.is_server_error()
                    || status == StatusCode::TOO_MANY_REQUESTS
                    || status == StatusCode::REQUEST_TIMEOUT)
                {
                    eprintln!(
                        "{}: the server refused it ({status}): {message}",
                        file.display()
                    );
                    return FAILED;
                }
                format!("the server answered {status}: {message}")
            }
            Err(err) => format!("cannot reach the server: {err}"),
        };
        if attempt == ATTEMPTS {
            eprintln!(
                "{}: {transient}; gave up after {ATTEMPTS} attempts",
                file.display()
            );
            return FAILED;
        }
        eprintln!(
            "{}: {transient}; retrying in {:.1} s",
            file.display(),
            backoff.as_secs_f64()
        );
        tokio::time::sleep(backoff).await;
        backoff *= 2;
    }
    FAILED
}

fn report_diff(file: &Path, diff: &Value, dry_run: bool, format: OutputFormat) {
    if format == OutputFormat::Json {
        println!("{diff}");
        return;
    }
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let mut lines = Vec::new();
    for (part, mark) in [("created", '+'), ("updated", '~'), ("deleted", '-')] {
        for e in list(&diff["entities"][part]) {
            lines.push(format!(
                "  {mark} {} {}",
                e["kind"].as_str().unwrap_or_default(),
                e["fqn"].as_str().unwrap_or_default()
            ));
        }
    }
    for (part, mark) in [("added", '+'), ("updated", '~'), ("removed", '-')] {
        for e in list(&diff["edges"][part]) {
            lines.push(format!(
                "  {mark} edge {} -> {}",
                e["from"].as_str().unwrap_or_default(),
                e["to"].as_str().unwrap_or_default()
            ));
        }
    }
    println!(
        "{}: {} {}{}",
        file.display(),
        diff["source"].as_str().unwrap_or_default(),
        if lines.is_empty() {
            "unchanged"
        } else {
            "changes"
        },
        if dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    );
    for line in lines {
        println!("{line}");
    }
    println!(
        "  = {} edge(s) unchanged",
        diff["edges"]["unchanged"].as_u64().unwrap_or(0)
    );
}

fn report_problems(file: &Path, body: &Value, format: OutputFormat) {
    if format == OutputFormat::Json {
        println!("{body}");
        return;
    }
    let error = &body["error"];
    let details = error["details"].as_array().cloned().unwrap_or_default();
    if details.is_empty() {
        println!(
            "{}: {}",
            file.display(),
            error["message"].as_str().unwrap_or("invalid document")
        );
    }
    for d in details {
        let place = match (d["line"].as_u64(), d["column"].as_u64()) {
            (Some(line), Some(column)) if line > 0 => {
                format!("{}:{line}:{column}", file.display())
            }
            _ => file.display().to_string(),
        };
        let what = d["problem"]
            .as_str()
            .or(d["message"].as_str())
            .unwrap_or_default();
        let mut line = match d["reference"].as_str() {
            Some(reference) => format!("{place}: {reference}: {what}"),
            None => format!("{place}: {what}"),
        };
        let suggestions: Vec<&str> = d["suggestions"]
            .as_array()
            .map(|s| s.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !suggestions.is_empty() {
            line.push_str(&format!(" (did you mean {}?)", suggestions.join(", ")));
        }
        println!("{line}");
    }
}
