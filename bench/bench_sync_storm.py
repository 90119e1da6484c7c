"""Reconnect storm: 300 station clients reconnecting after a broker restart.

300 MQTT 5 clients (each a ``contract.mqtt.Link``, the uplink's own reconnect
logic, backoff base 1 s / cap 120 s as in the default config) connect to a
mosquitto on a free loopback port; the broker is SIGKILLed, stays down 1 s,
and restarts. Figures: time from the restart until all 300 are connected
again, and the spread of their first reconnect attempts after the kill (full
jitter should spread them over the first backoff window). The peer figure is
the same fleet without jitter (every delay at the top of its window, like
paho's reconnect_delay_set): all first attempts land in the same instant.
Prints the figures and ends with one JSON line.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from contract.broker_config import BrokerSection  # noqa: E402
from contract.mqtt import Link, make_client  # noqa: E402
from tests.sync_harness import Broker  # noqa: E402

N = 300
BASE_S, CAP_S, DOWN_S = 1.0, 120.0, 1.0


class NoJitter(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b


def storm(tmp: Path, jitter: bool) -> dict[str, float]:
    broker = Broker(tmp)
    broker.start()
    cfg = BrokerSection(host="127.0.0.1", port=broker.port, keepalive_s=30, connect_timeout_s=5.0)
    first_attempt: dict[int, float] = {}
    back: dict[int, float] = {}
    phase = {"killed_at": 0.0}
    links: list[Link] = []
    for i in range(N):
        def on_attempt(i: int = i) -> None:
            if phase["killed_at"] and i not in first_attempt:
                first_attempt[i] = time.monotonic()

        def on_up(i: int = i) -> None:
            if phase["killed_at"]:
                back[i] = time.monotonic()

        links.append(Link(make_client(cfg, f"storm-{i:03d}"), cfg, backoff_min_s=BASE_S, backoff_max_s=CAP_S,
                          on_up=on_up, on_attempt=on_attempt,
                          rng=random.Random(i) if jitter else NoJitter()))

    def pump_until(pred: object, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not pred():  # type: ignore[operator]
            for link in links:
                link.pump(0)
            time.sleep(0.001)

    pump_until(lambda: all(lk.connected for lk in links), 60)
    assert all(lk.connected for lk in links), "fleet did not connect"
    broker.kill()
    phase["killed_at"] = time.monotonic()
    pump_until(lambda: False, DOWN_S)
    broker.start()
    restarted = time.monotonic()
    pump_until(lambda: len(back) == N, 120)
    attempts = sum(lk.attempts_made for lk in links) - N
    for lk in links:
        lk.close()
    broker.kill()
    firsts = sorted(t - phase["killed_at"] for t in first_attempt.values())
    q = statistics.quantiles(firsts, n=10)
    return {"all_back_s": round(max(back.values()) - restarted, 3) if len(back) == N else -1.0,
            "back": len(back), "first_attempt_min_s": round(firsts[0], 3),
            "first_attempt_p10_s": round(q[0], 3), "first_attempt_p90_s": round(q[-1], 3),
            "first_attempt_max_s": round(firsts[-1], 3),
            "first_attempt_stdev_s": round(statistics.pstdev(firsts), 3),
            "connect_attempts": attempts}


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-storm-"))
    (tmp / "j").mkdir()
    (tmp / "n").mkdir()
    j = storm(tmp / "j", jitter=True)
    n = storm(tmp / "n", jitter=False)
    for name, r in (("full jitter", j), ("no jitter (peer)", n)):
        print(f"{name:17s}: {r['back']}/{N} back {r['all_back_s']:6.2f} s after the restart; first attempts "
              f"{r['first_attempt_min_s']:.2f}..{r['first_attempt_max_s']:.2f} s after the kill "
              f"(p10 {r['first_attempt_p10_s']:.2f}, p90 {r['first_attempt_p90_s']:.2f}, "
              f"stdev {r['first_attempt_stdev_s']:.3f}); {r['connect_attempts']} connection attempts")
    print(json.dumps({"bench": "sync_storm", "clients": N, "down_s": DOWN_S, "backoff_base_s": BASE_S,
                      **{f"jitter_{k}": v for k, v in j.items()},
                      **{f"nojitter_{k}": v for k, v in n.items()}}))


if __name__ == "__main__":
    main()
