"""What the benchmarks share: backends (embedded / Redis + PostgreSQL), results, statistics, a Streamlit server."""
from __future__ import annotations

import math
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("TUTOR_CHROMIUM", "/usr/bin/chromium")
SEED = 20240606  # every shuffle and pick below uses random.Random(SEED + something fixed)


# --- statistics ----------------------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: list[float]) -> float:
    return percentile(values, 50)


def rounded(value: float, digits: int = 3) -> float:
    return float(round(value, digits))


# --- results -------------------------------------------------------------------------------------------------------

@dataclass
class Results:
    """The keys measured on one backend: ``{key: {"value", "unit", "setup"}}``."""

    backend: "Backend"
    keys: dict[str, dict] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def put(self, key: str, value: float, unit: str, **setup: Any) -> None:
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{key} is not finite: {value}")
        self.keys[key] = {"value": rounded(value, 4), "unit": unit,
                          "setup": {**self.backend.describe(), **setup}}

    def failed(self, group: str, error: BaseException) -> None:
        self.errors[group] = f"{type(error).__name__}: {error}"


# --- backends ------------------------------------------------------------------------------------------------------

@dataclass
class Backend:
    """Settings for one kind of deployment, with a fresh data dir (and database + Redis prefix) for this run."""

    name: str  # "embedded" | "servers"
    data_dir: Path
    database_url: str = ""  # a database created for this run (servers only)
    redis_url: str = ""
    redis_prefix: str = ""
    _admin_url: str = ""
    _database: str = ""
    _versions: dict = field(default_factory=dict)

    def settings(self, **extra: str) -> dict[str, str]:
        """Every setting pinned (defaults unless given), so neither the environment nor a .env file leaks in."""
        from core import SETTINGS
        values = {s.name: str(s.default) for s in SETTINGS}
        values.update(TUTOR_DATA_DIR=str(self.data_dir), DATABASE_URL=self.database_url, REDIS_URL=self.redis_url,
                      TUTOR_REDIS_PREFIX=self.redis_prefix or "tutor:")
        values.update({k: str(v) for k, v in extra.items()})
        return values

    def tutor(self, **extra: str):
        from core import create_tutor
        return create_tutor(self.settings(**extra), environ={}, env_file=None)

    def environ(self, **extra: str) -> dict[str, str]:
        """A process environment for a child (CLI, Streamlit) with every setting pinned."""
        settings = self.settings(**extra)
        env = {k: v for k, v in os.environ.items() if k not in settings}
        env.update(settings)
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        return env

    def describe(self) -> dict[str, str]:
        if self.name == "embedded":
            return {"backend": "embedded", "database": "sqlite (file in a fresh data dir)",
                    "session_store": "embedded (sqlite WAL)"}
        if not self._versions:
            self._versions.update(postgresql=_postgres_version(self._admin_url),
                                  redis=_redis_version(self.redis_url))
        return {"backend": "servers", "database": f"postgresql {self._versions['postgresql']} (fresh database)",
                "session_store": f"redis {self._versions['redis']} (fresh key prefix)"}

    def cleanup(self) -> None:
        """Remove what this run created, and only that: its database, its Redis keys, its data dir."""
        try:
            if self._database:
                _drop_database(self._admin_url, self._database)
        finally:
            try:
                if self.redis_prefix:
                    _delete_prefix(self.redis_url, self.redis_prefix)
            finally:
                shutil.rmtree(self.data_dir, ignore_errors=True)


def _psycopg(url: str) -> str:
    from core.testing.probes import database_url
    return database_url(url, Path("."))


def servers_configured(environ=os.environ) -> str | None:
    """None when REDIS_URL and a PostgreSQL DATABASE_URL are set, else why the servers block is skipped."""
    database, redis_url = environ.get("DATABASE_URL", ""), environ.get("REDIS_URL", "")
    if not (database and redis_url):
        return "REDIS_URL and DATABASE_URL are not both set"
    if not database.startswith(("postgres://", "postgresql")):
        return f"DATABASE_URL is not PostgreSQL ({database.split(':', 1)[0]})"
    return None


@contextmanager
def backend(name: str, environ=os.environ) -> Iterator[Backend]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"tutor-bench-{name}-"))
    if name == "embedded":
        made = Backend("embedded", data_dir)
    else:
        import redis
        import sqlalchemy as sa
        tag = uuid.uuid4().hex[:10]
        admin_url = environ["DATABASE_URL"]
        database = f"tutor_bench_{tag}"
        try:
            client = redis.Redis.from_url(environ["REDIS_URL"])
            try:
                client.ping()
            finally:
                client.close()
            admin = sa.create_engine(_psycopg(admin_url), isolation_level="AUTOCOMMIT")
            try:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
            finally:
                admin.dispose()
        except Exception:
            shutil.rmtree(data_dir, ignore_errors=True)
            raise
        url = sa.make_url(_psycopg(admin_url)).set(database=database).render_as_string(hide_password=False)
        made = Backend("servers", data_dir, database_url=url, redis_url=environ["REDIS_URL"],
                       redis_prefix=f"tutorbench:{tag}:", _admin_url=admin_url, _database=database)
    try:
        yield made
    finally:
        made.cleanup()


def _drop_database(admin_url: str, database: str) -> None:
    import sqlalchemy as sa
    admin = sa.create_engine(_psycopg(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        admin.dispose()


def _delete_prefix(url: str, prefix: str) -> None:
    import redis
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=prefix + "*", count=1000):
            client.delete(key)
    finally:
        client.close()


def _postgres_version(admin_url: str) -> str:
    import sqlalchemy as sa
    engine = sa.create_engine(_psycopg(admin_url))
    try:
        with engine.connect() as conn:
            return str(conn.exec_driver_sql("show server_version").scalar()).split()[0]
    except Exception as error:  # informative only
        return f"unknown ({type(error).__name__})"
    finally:
        engine.dispose()


def _redis_version(url: str) -> str:
    import redis
    try:
        client = redis.Redis.from_url(url)
        try:
            return str(client.info("server").get("redis_version"))
        finally:
            client.close()
    except Exception as error:
        return f"unknown ({type(error).__name__})"


# --- users ---------------------------------------------------------------------------------------------------------

def make_users(tutor, tag: str, count: int, language: str = "es") -> list:
    """``count`` students without a password (no hashing cost); sign them in with ``tutor.token_for(user)``."""
    return [tutor.accounts.register(f"{tag}{i}@bench.example.org", None, name=f"{tag} {i}", language=language)
            for i in range(count)]


# --- the machine ---------------------------------------------------------------------------------------------------

def machine() -> dict:
    import streamlit
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "ram_gb": round(_ram_bytes() / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "streamlit": streamlit.__version__,
        "chromium": _chromium_version(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
    }
    for name in ("openai", "sqlalchemy", "redis", "psycopg", "playwright", "websockets"):
        try:
            from importlib.metadata import version
            info[name] = version(name)
        except Exception:
            pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _chromium_version() -> str:
    if not Path(CHROMIUM).exists():
        return "not installed"
    try:
        out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=20).stdout
        return out.strip() or "unknown"
    except Exception:
        return "unknown"


# --- process statistics (psutil when installed, else /proc) ---------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a process."""
    try:
        import psutil
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system
    except ImportError:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all cores, all processes: user+nice+system+irq+softirq)."""
    try:
        import psutil
        t = psutil.cpu_times()
        return t.user + t.nice + t.system + getattr(t, "irq", 0) + getattr(t, "softirq", 0)
    except ImportError:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
        return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    try:
        import psutil
        return psutil.Process(pid).memory_info().rss
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0


# --- a real Streamlit server -----------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response:
            return response.read().decode().strip() == "ok"
    except OSError:
        return False


class StreamlitServer:
    """``streamlit run streamlit_app.py`` on a free loopback port with the given environment (the benchmarks and
    the browser tests both use it)."""

    def __init__(self, data_dir: Path, environ: dict[str, str]):
        self.environ = environ
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(data_dir) / f"streamlit-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> "StreamlitServer":
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=self.environ, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while not _healthy(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"streamlit did not start:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> "StreamlitServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
