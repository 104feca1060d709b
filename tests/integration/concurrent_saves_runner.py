"""Two console saves of the same Variable at the same moment, in a process whose Airflow metadata DB is
the one in ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` (PostgreSQL in the test). Usage:
concurrent_saves_runner.py TRIES. Prints one JSON line: per try, which saves won and which were told the
Variable changed meanwhile, and whether the final value holds every winner's edit.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins"))

from airflow.models.variable import Variable  # noqa: E402
from airflow.utils.session import create_session  # noqa: E402

from trident1_aiq.console import airflow_side  # noqa: E402

KEY = "trident1_store_mappings"


def main(tries: int) -> None:
    out = []
    for n in range(tries):
        start = json.dumps([{"try": n}])
        Variable.set(KEY, start)
        seen = airflow_side.fingerprint(Variable.get(KEY))
        barrier = threading.Barrier(2)
        results: dict[str, str] = {}

        def save(who: str, barrier=barrier, results=results, start=start, seen=seen) -> None:
            new = json.dumps([*json.loads(start), {"by": who}])
            with create_session() as session:
                barrier.wait()
                try:
                    airflow_side.save_variables(session, {KEY: (seen, new)}, who)
                    results[who] = "saved"
                except airflow_side.ChangedMeanwhile:
                    results[who] = "changed"

        threads = [threading.Thread(target=save, args=(who,)) for who in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        final = json.loads(Variable.get(KEY))
        winners = [who for who, r in results.items() if r == "saved"]
        out.append({"results": results, "lost": [w for w in winners if {"by": w} not in final]})
    print(json.dumps(out))


if __name__ == "__main__":
    main(int(sys.argv[1]))
