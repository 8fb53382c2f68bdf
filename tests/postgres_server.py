"""A throwaway PostgreSQL server for tests and benchmarks: initdb into a temporary folder,
listen on a free port of 127.0.0.1, stop and remove everything at the end.

initdb and postgres refuse to run as root, and the tests and CI run as root, so there the
server runs as the `postgres` system user (runuser); as anyone else it runs as that user.
`python -m tests.postgres_server` starts one and prints its URL until Ctrl-C.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SERVER_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    pass


def server_binaries() -> Path:
    """The folder with initdb and pg_ctl: MLBOT_PG_BIN, Debian's newest, or the PATH."""
    if os.environ.get("MLBOT_PG_BIN"):
        return Path(os.environ["MLBOT_PG_BIN"])
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if debian:
        return Path(debian[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresUnavailable("PostgreSQL's server is not installed: run deploy/bootstrap.sh as root, or "
                              "sudo apt-get install postgresql (or set MLBOT_PG_BIN)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    def __init__(self):
        self.bin = server_binaries()
        self.as_root = os.geteuid() == 0
        self.folder: Path | None = None
        self.port = 0
        self._databases = 0

    def _command(self, *args: str) -> list[str]:
        return (["runuser", "-u", SERVER_USER, "--"] if self.as_root else []) + list(args)

    def start(self) -> "PostgresServer":
        self.folder = Path(tempfile.mkdtemp(prefix="mlbot-postgres-"))
        if self.as_root:
            try:
                owner = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise PostgresUnavailable(f"running as root needs the {SERVER_USER!r} user to start PostgreSQL "
                                          "(Debian's postgresql package creates it)") from None
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        data = self.folder / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        for attempt in range(3):  # a free port can be taken between the probe and the bind
            self.port = free_port()
            try:
                self._start_server()
                return self
            except PostgresUnavailable:
                if attempt == 2:
                    raise
        return self

    def _run(self, *args: str) -> None:
        result = subprocess.run(self._command(*args), capture_output=True, text=True)
        if result.returncode != 0:
            log = self.folder / "server.log" if self.folder else None
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise PostgresUnavailable(f"{Path(args[0]).name} failed: {result.stderr.strip()[-2000:]}\n{tail}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database; returns its URL."""
        self._databases += 1
        name = f"{prefix}_{os.getpid()}_{self._databases}"
        result = subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                                 "-U", "postgres", name], capture_output=True, text=True)
        if result.returncode != 0:
            raise PostgresUnavailable(f"createdb failed: {result.stderr.strip()}")
        return self.url(name)

    def psql(self, url: str, sql: str) -> str:
        """One query through psql, for tests that look at rows from outside mlbot."""
        result = subprocess.run([str(self.bin / "psql"), url, "-XAtqc", sql], capture_output=True, text=True)
        if result.returncode != 0:
            raise PostgresUnavailable(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def stop(self) -> None:
        if self.folder is None:
            return
        subprocess.run(self._command(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate",
                                     "-w", "stop"), capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def restart(self) -> None:
        """Stop and start on the same port (tests of a connection lost mid-run)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        self._start_server()

    def _start_server(self) -> None:
        # A test server: durability off (fsync, full pages) for speed; the data is thrown away.
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off -c max_connections=300")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-l", str(self.folder / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    with PostgresServer() as server:
        print(server.new_database("mlbot"), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
