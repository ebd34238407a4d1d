# Sourced by scripts/test: make sure a MariaDB server answers on 127.0.0.1:3306 as root
# without a password, installing and starting it when needed (as root on Debian).
ensure_mariadb() {
    if mysqladmin --protocol=tcp -h127.0.0.1 -uroot status >/dev/null 2>&1; then
        return 0
    fi
    if [ ! -x /usr/sbin/mariadbd ]; then
        echo "MariaDB is not installed: installing mariadb-server" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq mariadb-server >/dev/null
    fi
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    for _ in $(seq 1 60); do
        mysqladmin --protocol=socket -uroot status >/dev/null 2>&1 && break
        sleep 1
    done
    if ! mysqladmin --protocol=tcp -h127.0.0.1 -uroot status >/dev/null 2>&1; then
        # A fresh Debian install lets root in only through the socket: allow TCP without a
        # password too, as the tests expect (a throwaway CI/test server, never production).
        mysql --protocol=socket -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket; FLUSH PRIVILEGES;" || true
    fi
    mysqladmin --protocol=tcp -h127.0.0.1 -uroot status >/dev/null
}
