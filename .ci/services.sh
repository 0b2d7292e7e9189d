# Helpers for .ci/run (sourced): start the services keygate's tests use when they are not
# running, wait until they answer, and create the seed's databases and users.

wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then echo "$name is up"; return 0; fi
    sleep 1
  done
  echo "$name did not come up" >&2
  return 1
}

pg() { psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
my() { mariadb -h 127.0.0.1 -u root "$@"; }
tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_postgres() {
  pg_isready -h 127.0.0.1 -q 2>/dev/null ||
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  wait_for PostgreSQL pg_isready -h 127.0.0.1 -q
}

ensure_mariadb() {
  my -e 'select 1' >/dev/null 2>&1 ||
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  wait_for MariaDB my -e 'select 1'
}

ensure_rabbitmq() {
  tcp_open 5672 || rabbitmq-server -detached || true
  wait_for RabbitMQ tcp_open 5672
}

ensure_nats() {
  tcp_open 4222 || start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || true
  wait_for NATS tcp_open 4222
}

# A RabbitMQ user with every permission on the default vhost (idempotent).
ensure_rabbitmq_user() { # user, password
  rabbitmqctl list_users -q 2>/dev/null | cut -f1 | grep -qx "$1" ||
    rabbitmqctl add_user "$1" "$2" >/dev/null
  rabbitmqctl set_permissions -p / "$1" '.*' '.*' '.*' >/dev/null
}

# The seed's users and databases (apimadmin on apim_db, regadmin on shared_db) on both
# servers, as step 3 of the seed has a user create them. The databases are made anew on
# every run, so each run starts from the schema of the commit under test.
create_seed_databases() {
  for pair in apimadmin:apim_db regadmin:shared_db; do
    local user=${pair%%:*} db=${pair##*:}
    pg -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='$user') THEN CREATE ROLE $user LOGIN PASSWORD '$user'; END IF; END\$\$;"
    pg -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
    pg -c "CREATE DATABASE $db OWNER $user"
    my -e "DROP DATABASE IF EXISTS $db; CREATE DATABASE $db;
           CREATE USER IF NOT EXISTS '$user'@'%' IDENTIFIED BY '$user';
           CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$user';
           GRANT ALL PRIVILEGES ON $db.* TO '$user'@'%';
           GRANT ALL PRIVILEGES ON $db.* TO '$user'@'localhost';
           FLUSH PRIVILEGES;"
  done
}
