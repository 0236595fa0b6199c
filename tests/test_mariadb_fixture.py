from tests.support.mariadb import DATABASE


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
