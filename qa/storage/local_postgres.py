"""A private PostgreSQL server on 127.0.0.1, for the tests, the replica benchmark and trying
replicas on one machine; production points `--store-url` at a server of its own.

It uses the server binaries of Debian's `postgresql` package (`make postgres` installs them).
PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

USER = "verbatim"


def find_binary(name: str) -> str | None:
    """Locate a PostgreSQL server program (on PATH or in Debian's versioned folder)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def free_port() -> int:
    """Pick a port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPostgres:
    """One server process over a data directory of its own; `stop` (or `kill`) ends it."""

    def __init__(self, root: Path | None = None, port: int | None = None) -> None:
        """Pick a folder and a port; nothing runs before `init` and `start`."""
        if find_binary("initdb") is None:
            raise RuntimeError("PostgreSQL's server programs are not installed: run "
                               "`make postgres` (Debian's postgresql package)")
        self.root = Path(root or tempfile.mkdtemp(prefix="verbatim-pg-"))
        self.data = self.root / "data"
        self.port = port or free_port()
        self._as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_user:
            shutil.chown(self.root, "postgres", "postgres")

    def url(self, database: str = "postgres") -> str:
        """The connection URL of a database on this server."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        """Run a server program as the unprivileged user, failing loudly."""
        subprocess.run([*self._as_user, *args], check=True, capture_output=True, text=True)

    def init(self) -> LocalPostgres:
        """Create the cluster, trusting local connections (no password on 127.0.0.1)."""
        self._run(find_binary("initdb") or "initdb", "-D", str(self.data), "-U", USER,
                  "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\nwal_level = replica\nmax_wal_senders = 4\nfsync = on\n")
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write(f"\nhost replication {USER} 127.0.0.1/32 trust\n")
        return self

    def standby_of(self, primary: LocalPostgres) -> LocalPostgres:
        """Create this cluster as a streaming standby of `primary` (a base backup)."""
        self._run(find_binary("pg_basebackup") or "pg_basebackup", "-D", str(self.data),
                  "-h", "127.0.0.1", "-p", str(primary.port), "-U", USER, "-R",
                  "--wal-method=stream", "--checkpoint=fast")
        return self

    def start(self) -> LocalPostgres:
        """Start the server and wait until it accepts connections."""
        self._run(find_binary("pg_ctl") or "pg_ctl", "-D", str(self.data), "-l",
                  str(self.root / "server.log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}", "start")
        return self

    def create_database(self, name: str) -> str:
        """Create an empty database and give its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def wait_replayed(self, primary: LocalPostgres, timeout: float = 10.0) -> None:
        """Wait until this standby has replayed everything the primary has written so far."""
        with psycopg.connect(primary.url(), autocommit=True) as conn:
            target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.url(), autocommit=True) as conn:
            while conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                               (target,)).fetchone()[0] is not True:
                if time.monotonic() > deadline:
                    raise TimeoutError("the standby did not catch up")
                time.sleep(0.01)

    def stop(self) -> None:
        """Stop the server and remove its files (an immediate shutdown: no checkpoint is
        written for files about to be deleted)."""
        try:
            self._run(find_binary("pg_ctl") or "pg_ctl", "-D", str(self.data), "-m", "immediate",
                      "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)
