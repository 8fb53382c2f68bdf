"""Prometheus metrics of one bot process (prometheus_client), served on /metrics.

Counted as they happen: commands by name, adapter and outcome, and how long each took.
Read when scraped (AppCollector): cache hits and misses, queue depth and busy answers per
service, gateway latency per shard, training progress per model.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

if TYPE_CHECKING:
    from bot.app import App

REGISTRY = CollectorRegistry()
COMMANDS = Counter("mlbot_commands", "Commands run, by name, adapter and outcome",
                   ["command", "adapter", "outcome"], registry=REGISTRY)
COMMAND_SECONDS = Histogram("mlbot_command_seconds", "Time to answer a command, by command (one per service)",
                            ["command"], registry=REGISTRY,
                            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))


def record_command(command: str, adapter: str, outcome: str, seconds: float) -> None:
    COMMANDS.labels(command, adapter, outcome).inc()
    COMMAND_SECONDS.labels(command).observe(seconds)


class AppCollector:
    """The app's own counters and gauges, read at scrape time."""

    def __init__(self, app: "App", client: Callable[[], object | None]):
        self.app = app
        self.client = client

    def collect(self) -> Iterator:
        cache = CounterMetricFamily("mlbot_cache_lookups", "Result cache lookups by this process", labels=["result"])
        cache.add_metric(["hit"], self.app.cache.hits)
        cache.add_metric(["miss"], self.app.cache.misses)
        yield cache
        depth = GaugeMetricFamily("mlbot_queue_depth", "Model calls running or waiting, per service",
                                  labels=["service"])
        busy = CounterMetricFamily("mlbot_busy_answers", "Calls answered 'busy, try again', per service",
                                   labels=["service"])
        for name, runtime in self.app.runtimes().items():
            depth.add_metric([name], runtime.pending)
            busy.add_metric([name], runtime.busy_answers)
        yield depth
        yield busy
        latency = GaugeMetricFamily("mlbot_gateway_latency_seconds", "Heartbeat round trip per shard",
                                    labels=["shard"])
        client = self.client()
        if client is not None:
            shards = getattr(client, "latencies", None)
            pairs = shards if shards else [(0, getattr(client, "latency", float("nan")))]
            for shard_id, seconds in pairs:
                latency.add_metric([str(shard_id)], seconds)
        yield latency
        training = GaugeMetricFamily("mlbot_training_progress", "Fraction done of a model this process is "
                                     "building (0-1)", labels=["service"])
        for name in list(self.app.trainer.queue):
            fraction = self.app.trainer.fraction(name)
            if fraction is not None:
                training.add_metric([name], fraction)
        yield training
