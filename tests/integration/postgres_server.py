"""A throwaway PostgreSQL cluster on 127.0.0.1 for the tests: Debian's `postgresql` binaries,
`initdb` in a temp dir, `pg_ctl` on a free port, stopped and deleted afterwards.

initdb refuses to run as root, so as root the cluster belongs to the `postgres` user the
package creates (its directory is made outside pytest's root-only temp tree for that reason).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.integration.ports import AddressInUse, address_in_use, on_a_free_port

# a throwaway cluster on loopback: a fresh password per test session, never a literal in the repo
PASSWORD = secrets.token_hex(16)


def postgres_bin() -> Path | None:
    """The newest installed server's binaries (/usr/lib/postgresql/<version>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    def __init__(self) -> None:
        binaries = postgres_bin()
        if binaries is None:
            raise RuntimeError("PostgreSQL server binaries not found: `make tools` installs Debian's postgresql")
        self.bin = binaries
        self.port = 0  # bound at start()
        self.root = Path(tempfile.mkdtemp(prefix="churnguard-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)

    def url(self, database: str = "churnguard", driver: str = "postgresql") -> str:
        return f"{driver}://churnguard:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        argv = ["runuser", "-u", "postgres", "--", *command] if self._as_root else list(command)
        return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, cwd=self.root)

    def initialise(self) -> PostgresServer:
        password_file = self.root / "password"
        password_file.write_text(PASSWORD)
        if self._as_root:
            shutil.chown(password_file, "postgres", "postgres")
        result = self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "churnguard", "--auth=scram-sha-256",
            f"--pwfile={password_file}", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stdout}{result.stderr}")
        return self

    def start(self, timeout: float = 60.0) -> PostgresServer:
        """Start on a free port (on another if it was taken meanwhile); wait for a connection."""
        if self.port:  # a restart keeps the port its clients know
            return self._start(self.port, timeout)
        return on_a_free_port(lambda port: self._start(port, timeout))

    def _start(self, port: int, timeout: float) -> PostgresServer:
        self.port = port
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        result = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "start")
        if result.returncode != 0:
            message = f"pg_ctl start failed: {result.stdout}{result.stderr}{self._tail()}"
            raise (AddressInUse if address_in_use(message) else RuntimeError)(message)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
                return self
            except psycopg.OperationalError:
                time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL did not accept connections within {timeout}s: {self._tail()}")

    def create_database(self, name: str) -> str:
        connection = psycopg.connect(self.url("postgres"))
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are cut, as when a database restarts)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _tail(self) -> str:
        return self.log.read_text()[-2000:] if self.log.exists() else ""
