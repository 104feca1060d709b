"""``python -m trident1_aiq airflow`` (``make airflow``): a local Airflow in one command.

Starts the sandbox, then Airflow's api-server, scheduler, dag-processor and triggerer
(LocalExecutor) on one AIRFLOW_HOME with the project's environment and the sandbox
Connections of ``make run``; sets the four Variables from ``config/`` where Airflow has
none yet (so that the console can edit them); prints the URL and the logins; and on
Ctrl-C (SIGINT) or SIGTERM stops every process it started.

Logins come from Airflow's simple auth manager: ``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS``
(default ``admin:admin,viewer:viewer``, i.e. user ``admin`` with the Admin role and user
``viewer`` with the Viewer role); their passwords are in
``$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from trident1_aiq.dev.demo import ROOT, connection_sources, run_env

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
#: The sandbox of ``make airflow`` (as of ``make sandbox``): a fixed port, so that the shell of
#: ``eval "$(make -s airflow-env)"`` holds the very Connections the components use.
SANDBOX_PORT = 8808
DEFAULT_USERS = "admin:admin,viewer:viewer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def airflow_env(base: dict[str, str], home: Path, port: int, sandbox_url: str, warehouse: Path) -> dict[str, str]:
    """The environment every component gets: one home, the project's folders, the sandbox Connections.
    A ``warehouse_default`` Connection the user gave (``AIRFLOW_CONN_WAREHOUSE_DEFAULT``) is kept."""
    env = dict(base)
    env.update(run_env(sandbox_url, warehouse, base))
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "plugins"), base.get("PYTHONPATH", "")) if p),
        "GX_ANALYTICS_ENABLED": "false",
    })
    env.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", DEFAULT_USERS)
    # The Connection form's Test button (the Trident1 type's asks for /locations); Airflow disables it by default.
    env.setdefault("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
    # Every component must sign and check the same tokens; one secret per launch unless given.
    env.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_hex(32))
    env.setdefault("AIRFLOW__API__SECRET_KEY", secrets.token_hex(32))
    return env


def cli_env(base: dict[str, str], home: Path, warehouse: Path,
            sandbox_url: str = f"http://127.0.0.1:{SANDBOX_PORT}") -> dict[str, str]:
    """What the ``airflow`` CLI (and ``config check --from-airflow``) needs to see the same Airflow as
    ``make airflow``: the same home, the project's folders, and the same Connections — the sandbox's
    and the warehouse, each unless the user gave their own (:func:`~trident1_aiq.dev.demo.run_env`)."""
    env = run_env(sandbox_url, warehouse, base)
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": str(ROOT / "plugins"),
        "GX_ANALYTICS_ENABLED": "false",
        "PATH": os.pathsep.join((str(Path(sys.executable).parent), base.get("PATH", ""))),
    }
    return env


def seed_variables(env: dict[str, str]) -> list[str]:
    """Set, from ``config/``, each of the four Variables Airflow does not hold yet; return their names."""
    code = (
        "import json, sys\n"
        "from airflow.models.variable import Variable\n"
        "from trident1_aiq.settings.config import VARIABLES, default_variable_text\n"
        "done = []\n"
        "for name in VARIABLES:\n"
        "    if Variable.get(name, default_var=None) is None:\n"
        "        Variable.set(name, default_variable_text(name), description='from config/ by make airflow')\n"
        "        done.append(name)\n"
        "print(json.dumps(done))\n"
    )
    return _in_airflow(env, code)


def create_pools(env: dict[str, str]) -> list[str]:
    """Create the DAG's pools (``trident1_api``, ``trident1_warehouse``) where they are missing; their names."""
    return _in_airflow(env, "import json\nfrom trident1_aiq.airflow.pools import ensure_pools\n"
                            "print(json.dumps(ensure_pools()))\n")


def _in_airflow(env: dict[str, str], code: str) -> list[str]:
    """Run ``code`` in a Python with this Airflow home's environment; the JSON of its last line."""
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True,
                         timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


class Processes:
    def __init__(self, logs: Path):
        self.logs, self.procs = logs, []

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        # Own session: Ctrl-C reaches this launcher only, which then stops every component in order.
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc, log))
        return proc

    def dead(self) -> list[str]:
        return [name for name, proc, _ in self.procs if proc.poll() is not None]

    def stop(self, grace: float = 20) -> None:
        for _, proc, _ in self.procs:
            _signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _, proc, log in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal(proc, signal.SIGKILL)  # the group: forked task runners and workers too
            log.close()


def _signal(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _up(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - our own local server
            return resp.status == 200
    except OSError:
        return False


def passwords(home: Path) -> dict[str, str]:
    path = home / "simple_auth_manager_passwords.json.generated"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m trident1_aiq airflow", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW_PORT", "8080")),
                   help="api-server port (0: a free one)")
    p.add_argument("--sandbox-port", type=int, default=SANDBOX_PORT,
                   help=f"sandbox port (default {SANDBOX_PORT}; give airflow-env the same: "
                        "make -s airflow-env ARGS='--sandbox-port N')")
    p.add_argument("--warehouse", type=Path, default=ROOT / "var" / "warehouse.db",
                   help="SQLite warehouse when AIRFLOW_CONN_WAREHOUSE_DEFAULT is not set")
    p.add_argument("--print-env", action="store_true",
                   help="print the shell exports that point the airflow CLI at this home, and exit")
    args = p.parse_args(argv)

    home = Path(os.environ.get("AIRFLOW_HOME") or ROOT / ".airflow").resolve()
    if args.print_env:
        import shlex

        env = cli_env(dict(os.environ), home, args.warehouse.resolve(), f"http://127.0.0.1:{args.sandbox_port}")
        print("export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()))
        return 0
    home.mkdir(parents=True, exist_ok=True)
    args.warehouse.parent.mkdir(parents=True, exist_ok=True)
    port = args.port or free_port()
    sandbox_port = args.sandbox_port or free_port()
    if _in_use(sandbox_port):
        print(f"port {sandbox_port} is in use (make sandbox running?): pass another with "
              f"make airflow ARGS='--sandbox-port N', and the same to make -s airflow-env", file=sys.stderr)
        return 1
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = airflow_env(dict(os.environ), home, port, sandbox_url, args.warehouse)
    procs = Processes(home / "logs" / "components")

    stopping = {"flag": False}

    def stop(signum, _frame):
        stopping["flag"] = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        print(f"AIRFLOW_HOME={home}; migrating Airflow's metadata DB ...", flush=True)
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
        seeded = seed_variables(env)
        if seeded:
            print(f"set Variables from config/: {', '.join(seeded)}", flush=True)
        pools = create_pools(env)
        if pools:
            print(f"created pools: {', '.join(pools)}", flush=True)
        procs.start("sandbox", [sys.executable, "-m", "trident1_sandbox", "--port", str(sandbox_port)], env)
        for name in COMPONENTS:
            procs.start(name, [sys.executable, "-m", "airflow", name], env)
        deadline = time.monotonic() + 180
        while not _up(f"http://127.0.0.1:{port}/api/v2/version"):
            if stopping["flag"]:
                return 130
            if procs.dead() or time.monotonic() > deadline:
                print(f"Airflow did not start ({', '.join(procs.dead()) or 'timeout'}); logs in {procs.logs}",
                      file=sys.stderr, flush=True)
                return 1
            time.sleep(1)
        logins = passwords(home)
        users = [u.split(":")[0] for u in env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(",") if u]
        warehouse = env["AIRFLOW_CONN_WAREHOUSE_DEFAULT"]
        print(f"\nAirflow UI      http://127.0.0.1:{port}/", flush=True)
        print(f"console         http://127.0.0.1:{port}/trident1/mappings  (also in the UI's Admin and Browse menus)")
        for user in users:
            print(f"login           {user} / {logins.get(user, '(see the passwords file)')}")
        print(f"passwords file  {home / 'simple_auth_manager_passwords.json.generated'}")
        print(f"warehouse       {json.loads(warehouse).get('host') if warehouse.startswith('{') else 'from AIRFLOW_CONN_WAREHOUSE_DEFAULT'}")
        print(f"sandbox         {sandbox_url}")
        for line in connection_sources(sandbox_url, args.warehouse, os.environ):
            print(f"connection      {line}")
        print(f"component logs  {procs.logs}")
        print('the airflow CLI on this home: eval "$(make -s airflow-env)", then airflow variables list ...')
        print("Ctrl-C stops everything.", flush=True)
        while not stopping["flag"]:
            dead = procs.dead()
            if dead:
                print(f"{', '.join(dead)} stopped; see {procs.logs}. Stopping the rest.", file=sys.stderr, flush=True)
                return 1
            time.sleep(1)
        return 0
    finally:
        print("stopping Airflow and the sandbox ...", flush=True)
        procs.stop()
        print("stopped.", flush=True)
