from kampy.db import connect
from kampy.testing.mariadb import DATABASE, fresh_database


def test_private_mariadb_accepts_the_kamailio_account(mariadb_server):
    conn = mariadb_server.connect()
    with conn.cursor() as cur:
        cur.execute("SELECT DATABASE(), VERSION()")
        database, version = cur.fetchone()
    conn.close()
    assert database == DATABASE
    assert "MariaDB" in version


def test_private_mariadb_listens_only_on_loopback(mariadb_server):
    conn = mariadb_server.connect()
    with conn.cursor() as cur:
        cur.execute("SHOW VARIABLES LIKE 'bind_address'")
        _, address = cur.fetchone()
    conn.close()
    assert address == "127.0.0.1"


def test_fresh_database_is_dropped_after_a_server_restart(mariadb_server):
    with fresh_database(mariadb_server) as url:
        name = url.rsplit("/", 1)[1]
        mariadb_server.restart()
    conn = mariadb_server.connect(database=None, user="root", password="")
    with conn.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE %s", (name,))
        assert cur.fetchall() == ()
    conn.close()


def test_mysql_url_is_usable_after_a_server_restart(mariadb_server, mysql_url):
    mariadb_server.restart()  # the fixture's teardown must still drop the database
    with connect(mysql_url) as db:
        assert not db.table_exists("version")
