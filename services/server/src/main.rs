//! The `tributary` binary: parses the command line, sets up logging, opens the store and
//! hands over to the library.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use tributary_catalog::Role;
use tributary_server::config::{Config, ConfigOverrides, redact_url};
use tributary_server::{api, app, bootstrap, demo, ingest_cli, lineage_cli, synthetic};

// Frees of many small blocks (a large document's rows) cost glibc's allocator a fifth of
// the request; see BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tributary",
    version,
    about = "Metadata catalog and lineage service"
)]
struct Cli {
    /// Config file (default: ./tributary.toml when present).
    #[arg(long, global = true, env = "TRIBUTARY_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://path (embedded default) or postgres://…
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API.
    Serve {
        /// Address to listen on (default 127.0.0.1:8585).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Load the demo catalog on start (once; it is kept afterwards).
        #[arg(long)]
        demo: bool,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Lineage documents: check them offline, push them from CI.
    Lineage {
        #[command(subcommand)]
        command: LineageCommand,
    },
    /// Rebuild the search index from the catalog (stop the server first when the index
    /// is on disk: one process writes it at a time).
    Reindex,
    /// Run one ingestion of a service now, against the configured catalog, with a progress
    /// bar. Exit 0 when it succeeded, 1 when it failed, 2 when it could not start.
    Ingest {
        /// The service's name, e.g. mlflow_prod.
        service: String,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Tools for development and benchmarks.
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
}

#[derive(Subcommand)]
enum DevCommand {
    /// Write a synthetic catalog of the given shape into the configured database.
    Generate(synthetic::CatalogShape),
}

#[derive(Subcommand)]
enum LineageCommand {
    /// Check documents against the format's rules and its JSON Schema, without a server.
    /// Exit 0 when all are valid, 1 when one is not.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Push documents to a server with the editor token in TRIBUTARY_TOKEN (never printed).
    /// Exit 0 when all applied, 1 when one is invalid, 2 on server, network or auth errors.
    Push {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The server, e.g. https://catalog.example.com
        #[arg(long, env = "TRIBUTARY_SERVER")]
        server: String,
        /// Show the diff, write nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_enum, default_value_t = lineage_cli::OutputFormat::Text)]
        format: lineage_cli::OutputFormat,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print its secret (shown only this once).
    Create {
        #[arg(long)]
        name: String,
        /// viewer, editor or admin.
        #[arg(long, default_value = "viewer")]
        role: Role,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke the live token of this name.
    Revoke {
        #[arg(long)]
        name: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("TRIBUTARY_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,hyper=warn,tower_http=warn")),
        )
        .with_writer(std::io::stderr)
        .init();

    let listen = match &cli.command {
        Command::Serve { listen, .. } => *listen,
        _ => None,
    };
    let config = Config::load(
        cli.config.as_deref(),
        ConfigOverrides {
            listen,
            database_url: cli.database_url.clone(),
        },
    )
    .context("loading configuration")?;

    if let Command::Openapi = cli.command {
        println!("{}", api::openapi().to_pretty_json()?);
        return Ok(());
    }
    // The lineage commands need no catalog of their own.
    if let Command::Lineage { command } = cli.command {
        let code = match command {
            LineageCommand::Validate { files } => {
                lineage_cli::validate(&files, &config.documents.datahub_platforms)
            }
            LineageCommand::Push {
                files,
                server,
                dry_run,
                format,
            } => {
                let token = std::env::var("TRIBUTARY_TOKEN").ok();
                lineage_cli::push(&files, &server, token.as_deref(), dry_run, format).await
            }
        };
        std::process::exit(code);
    }

    let store = tributary_store::open(&config.database_url)
        .await
        .with_context(|| {
            format!(
                "opening the catalog at {}",
                redact_url(&config.database_url)
            )
        })?;
    tracing::info!(database = %redact_url(&config.database_url), backend = store.backend().as_str(), "catalog open");

    match cli.command {
        Command::Serve {
            demo: with_demo, ..
        } => {
            if with_demo && demo::load(store.as_ref()).await.map_err(api_error)? {
                tracing::info!("demo catalog loaded");
            }
            if let Some(token) = bootstrap::first_admin_token(store.as_ref())
                .await
                .map_err(api_error)?
            {
                eprintln!(
                    "\nThis catalog had no API tokens, so one was created. It is shown only now:\n\n  \
                     admin token: {token}\n\nUse it as `Authorization: Bearer <token>`; create others with \
                     `tributary token create`.\n"
                );
            }
            let listener = TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("binding {}", config.listen))?;
            tracing::info!(address = %config.listen, "serving; API explorer at /api/docs");
            let state = app::state(store, &config).await?;
            app::serve(state, &config, listener, app::shutdown_signal()).await?;
        }
        Command::Token { command } => match command {
            TokenCommand::Create { name, role } => {
                let created = api::tokens::issue_token(store.as_ref(), "cli", &name, role)
                    .await
                    .map_err(api_error)?;
                println!("{}", created.token);
            }
            TokenCommand::List => {
                for t in store.list_tokens().await? {
                    let state = if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "live"
                    };
                    println!(
                        "{}\t{}\t{}\tcreated {}",
                        t.name,
                        t.role,
                        state,
                        t.created_at.format("%Y-%m-%d %H:%M")
                    );
                }
            }
            TokenCommand::Revoke { name } => store.revoke_token("cli", &name).await?,
        },
        Command::Dev {
            command: DevCommand::Generate(shape),
        } => {
            let started = std::time::Instant::now();
            let generated =
                synthetic::generate(store.as_ref(), &shape, |line| tracing::info!("{line}"))
                    .await?;
            println!(
                "generated {} entities and {} edges in {:.1} s; hot columns: {}",
                generated.entities,
                generated.edges,
                started.elapsed().as_secs_f64(),
                generated
                    .hot_columns
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Command::Reindex => {
            let dir = config.search.dir.as_deref().context(
                "no search index directory: the catalog is not an SQLite file and search.dir is \
                 not set, so the index lives in each server's memory and is rebuilt at start",
            )?;
            let (index, _) = tributary_search::SearchIndex::open_dir(dir)?;
            let rebuilt = index.rebuild(store.as_ref()).await?;
            let stats = index.stats();
            println!(
                "reindexed {} entities in {:.1} s into {} ({:.1} MiB, change-log position {})",
                rebuilt.documents,
                rebuilt.elapsed.as_secs_f64(),
                dir.display(),
                stats.bytes_on_disk as f64 / (1024.0 * 1024.0),
                rebuilt.seq
            );
        }
        Command::Ingest { service } => {
            std::process::exit(ingest_cli::ingest(store, &config, &service).await);
        }
        Command::Openapi | Command::Lineage { .. } => {
            unreachable!("handled before the store is opened")
        }
    }
    Ok(())
}

fn api_error(err: tributary_server::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}", err.message)
}
