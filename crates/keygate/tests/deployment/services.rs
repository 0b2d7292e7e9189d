//! The services under the deployment — the database server (MariaDB or PostgreSQL), the
//! broker (RabbitMQ or NATS) and HAProxy: whether they are there, the seed's databases
//! and users made anew (step 3), their rows read as an operator would, and the service
//! stopped and started again for the fault scenarios.

use keygate_testkit::{ServiceAddr, service_unavailable};
use sqlx::{Connection, Row};
use std::process::Command;
use std::time::{Duration, Instant};

/// The database server and broker of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// Run 1: MariaDB and RabbitMQ, `seed-key-manager.toml`.
    MariaDbRabbitMq,
    /// Run 2: PostgreSQL and NATS, `seed-key-manager-ha-tm.toml` and a second traffic
    /// manager.
    PostgresNats,
}

/// The seed's users and the databases they own (step 3).
pub const SEED_DATABASES: [(&str, &str); 2] = [("apimadmin", "apim_db"), ("regadmin", "shared_db")];

impl Stack {
    /// The database server.
    pub fn database(self) -> ServiceAddr {
        match self {
            Stack::MariaDbRabbitMq => ServiceAddr::MARIADB,
            Stack::PostgresNats => ServiceAddr::POSTGRES,
        }
    }

    /// The broker.
    pub fn broker(self) -> ServiceAddr {
        match self {
            Stack::MariaDbRabbitMq => ServiceAddr::RABBITMQ,
            Stack::PostgresNats => ServiceAddr::NATS,
        }
    }

    /// Whether everything the run needs is here; prints the SKIPPED line (or fails
    /// under `KEYGATE_TEST_REQUIRE_SERVICES=1`) naming what is missing.
    pub fn available_or_skip(self, test: &str) -> bool {
        if !self.database().available_or_skip(test) || !self.broker().available_or_skip(test) {
            return false;
        }
        let haproxy = Command::new("haproxy").arg("-v").output();
        if !haproxy.is_ok_and(|o| o.status.success()) {
            service_unavailable("HAProxy", "haproxy on PATH (Debian package haproxy)", test);
            return false;
        }
        true
    }

    /// The administrator's URL of the database server.
    fn admin_url(self) -> &'static str {
        match self {
            Stack::MariaDbRabbitMq => "mysql://root@127.0.0.1:3306/mysql",
            Stack::PostgresNats => "postgres://postgres@127.0.0.1:5432/postgres",
        }
    }

    /// `apim_db` as its owner sees it.
    fn apim_db_url(self) -> &'static str {
        match self {
            Stack::MariaDbRabbitMq => "mysql://apimadmin:apimadmin@127.0.0.1:3306/apim_db",
            Stack::PostgresNats => "postgres://apimadmin:apimadmin@127.0.0.1:5432/apim_db",
        }
    }

    /// Drops and creates `apim_db` and `shared_db` and their users, as
    /// `.ci/services.sh` `create_seed_databases` does.
    pub async fn recreate_databases(self) {
        match self {
            Stack::MariaDbRabbitMq => {
                let mut db = sqlx::MySqlConnection::connect(self.admin_url())
                    .await
                    .unwrap_or_else(|e| panic!("MariaDB as root: {e}"));
                for (user, name) in SEED_DATABASES {
                    for statement in [
                        format!("DROP DATABASE IF EXISTS {name}"),
                        format!("CREATE DATABASE {name}"),
                        format!("CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{user}'"),
                        format!(
                            "CREATE USER IF NOT EXISTS '{user}'@'localhost' IDENTIFIED BY '{user}'"
                        ),
                        format!("GRANT ALL PRIVILEGES ON {name}.* TO '{user}'@'%'"),
                        format!("GRANT ALL PRIVILEGES ON {name}.* TO '{user}'@'localhost'"),
                        "FLUSH PRIVILEGES".to_owned(),
                    ] {
                        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.as_str()))
                            .execute(&mut db)
                            .await
                            .unwrap_or_else(|e| panic!("MariaDB `{statement}`: {e}"));
                    }
                }
            }
            Stack::PostgresNats => {
                let mut db = sqlx::PgConnection::connect(self.admin_url())
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL as postgres: {e}"));
                for (user, name) in SEED_DATABASES {
                    for statement in [
                        format!(
                            "DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='{user}') \
                             THEN CREATE ROLE {user} LOGIN PASSWORD '{user}'; END IF; END$$"
                        ),
                        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        format!("CREATE DATABASE {name} OWNER {user}"),
                    ] {
                        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.as_str()))
                            .execute(&mut db)
                            .await
                            .unwrap_or_else(|e| panic!("PostgreSQL `{statement}`: {e}"));
                    }
                }
            }
        }
    }

    /// Every column of every row of `table` in `apim_db`, as text (binary columns
    /// lossily), for a test that looks for secrets in the clear.
    pub async fn apim_db_rows(self, table: &str) -> Vec<Vec<String>> {
        let query = format!("SELECT * FROM {table}");
        match self {
            Stack::MariaDbRabbitMq => {
                let mut db = sqlx::MySqlConnection::connect(self.apim_db_url())
                    .await
                    .unwrap_or_else(|e| panic!("apim_db: {e}"));
                let rows = sqlx::query(sqlx::AssertSqlSafe(query.as_str()))
                    .fetch_all(&mut db)
                    .await
                    .unwrap_or_else(|e| panic!("{query}: {e}"));
                rows.iter()
                    .map(|row| (0..row.len()).map(|i| mysql_text(row, i)).collect())
                    .collect()
            }
            Stack::PostgresNats => {
                let mut db = sqlx::PgConnection::connect(self.apim_db_url())
                    .await
                    .unwrap_or_else(|e| panic!("apim_db: {e}"));
                let rows = sqlx::query(sqlx::AssertSqlSafe(query.as_str()))
                    .fetch_all(&mut db)
                    .await
                    .unwrap_or_else(|e| panic!("{query}: {e}"));
                rows.iter()
                    .map(|row| (0..row.len()).map(|i| pg_text(row, i)).collect())
                    .collect()
            }
        }
    }

    /// Stops the database server (and answers once it no longer accepts connections).
    pub fn stop_database(self) {
        match self {
            Stack::MariaDbRabbitMq => run(
                "mariadb-admin",
                &["-h", "127.0.0.1", "-u", "root", "shutdown"],
            ),
            Stack::PostgresNats => run(
                "pg_ctlcluster",
                &[
                    "--skip-systemctl-redirect",
                    &pg_version(),
                    "main",
                    "stop",
                    "-m",
                    "fast",
                ],
            ),
        }
        wait_until(&format!("{} stopped", self.database().name), || {
            !self.database().reachable()
        });
    }

    /// Starts the database server again (the way `.ci/services.sh` starts it) and waits
    /// until it accepts connections.
    pub fn start_database(self) {
        match self {
            Stack::MariaDbRabbitMq => run(
                "start-stop-daemon",
                &[
                    "--start",
                    "--oknodo",
                    "--background",
                    "--exec",
                    "/usr/sbin/mariadbd",
                ],
            ),
            Stack::PostgresNats => run(
                "pg_ctlcluster",
                &["--skip-systemctl-redirect", &pg_version(), "main", "start"],
            ),
        }
        wait_until(&format!("{} started", self.database().name), || {
            self.database().reachable()
        });
    }

    /// Restarts the broker: RabbitMQ's application stopped and started, or the NATS
    /// server stopped (by its process id, from the listening socket) and started again
    /// as `.ci/services.sh` starts it.
    pub fn restart_broker(self) {
        match self {
            Stack::MariaDbRabbitMq => {
                run("rabbitmqctl", &["stop_app"]);
                run("rabbitmqctl", &["start_app"]);
            }
            Stack::PostgresNats => {
                let pid = listening_pid(4222).expect("the NATS server's process id");
                run("kill", &["-TERM", &pid.to_string()]);
                wait_until("NATS stopped", || !ServiceAddr::NATS.reachable());
                run(
                    "start-stop-daemon",
                    &[
                        "--start",
                        "--oknodo",
                        "--background",
                        "--exec",
                        "/usr/sbin/nats-server",
                        "--",
                        "-a",
                        "127.0.0.1",
                        "-p",
                        "4222",
                        "-js",
                        "-sd",
                        "/var/lib/nats-server",
                        "-l",
                        "/var/log/nats-server.log",
                    ],
                );
            }
        }
        wait_until(&format!("{} started", self.broker().name), || {
            self.broker().reachable()
        });
    }
}

/// The database server stopped until [`DatabaseOutage::end`], or until dropped (a
/// failing test leaves the machine's database running).
#[derive(Debug)]
pub struct DatabaseOutage {
    stack: Stack,
    ended: bool,
}

impl DatabaseOutage {
    /// Stops the database server.
    pub fn begin(stack: Stack) -> DatabaseOutage {
        let mut outage = DatabaseOutage { stack, ended: true };
        stack.stop_database();
        outage.ended = false;
        outage
    }

    /// Starts the database server again.
    pub fn end(mut self) {
        self.ended = true;
        self.stack.start_database();
    }
}

impl Drop for DatabaseOutage {
    fn drop(&mut self) {
        if !self.ended {
            self.ended = true;
            self.stack.start_database();
        }
    }
}

fn mysql_text(row: &sqlx::mysql::MySqlRow, i: usize) -> String {
    if let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) {
        return text;
    }
    if let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(i) {
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    String::new()
}

fn pg_text(row: &sqlx::postgres::PgRow, i: usize) -> String {
    if let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) {
        return text;
    }
    if let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(i) {
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    String::new()
}

/// The installed PostgreSQL cluster version (`/etc/postgresql/<version>`).
fn pg_version() -> String {
    std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|mut entries| entries.next())
        .and_then(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .unwrap_or_else(|| "15".to_owned())
}

/// The process id listening on a local TCP port, from `ss`.
fn listening_pid(port: u16) -> Option<u32> {
    let output = Command::new("ss")
        .args(["-ltnpH", &format!("sport = :{port}")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let at = text.find("pid=")? + 4;
    text[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Runs a command to its end; fails the test when it fails.
fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Polls `condition` every 100 ms for up to 60 s.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not after 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}
