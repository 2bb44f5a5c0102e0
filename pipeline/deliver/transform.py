"""``DeliverAlerts``: the Beam step that hands alerts to the Dispatcher.

The DoFn is thin: ``setup`` opens the ledger, loads the subscribers, reads their secrets
and builds the channel clients; ``process`` delivers one alert and yields one
``Delivery`` per (subscriber, channel) plus the sink's; ``teardown`` closes everything.
A channel failure never raises, so one bad alert or one failing webhook cannot fail
(and replay) its bundle; if a bundle is replayed anyway (worker lost), the ledger skips
what was already sent.

The DoFn holds no Beam state: the ledger is its state. At start-up (the background
thread sweeps at once), on the first element, and then every ``sweep_interval_seconds``
(so a quiet live pipeline still sends its 08:00 digest), it routes the alerts a killed
process recorded but never routed, retries deliveries left unconfirmed by a crash or by
exhausted retries, and sends the digests that are due. Deliveries made by the
background sweep are logged and recorded in the ledger; they are not in the output.

With ``wait_for_channels=False`` (live runs) ``process`` only claims and queues: each
(subscriber, channel) sends from its own bounded queue on its own thread
(``pipeline.deliver.lanes``), so a stalled SMTP server holds up neither Slack nor the
pipeline; the results of finished sends are yielded by the next ``process`` call. The
``DeliverAlerts/repeats`` counter counts sends that may have reached a receiver twice.

With ``reload_interval_seconds`` > 0 (live), ``process`` re-checks the subscribers file at
most that often (``pipeline.config.reload``); a good edit swaps in a new Dispatcher (same
ledger and sink, new channel clients; the old ones are closed), a bad edit or a secret the
new file names but the worker lacks keeps the last good subscribers.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable
from functools import partial

import apache_beam as beam
from apache_beam.metrics import Metrics

from pipeline.config.reload import ConfigWatcher
from pipeline.config.subscribers import Secrets, Subscribers, load_subscribers, resolve_secrets
from pipeline.deliver.base import DEAD, Delivery
from pipeline.deliver.dispatch import Dispatcher, default_dead_letter_path, utc_now
from pipeline.deliver.file_sink import SINK_SUBSCRIBER, JsonlSink
from pipeline.ledger import open_ledger
from pipeline.records import Failure
from pipeline.run.metrics import observe_deliveries, tally_here
from pipeline.run.secrets import SecretEnv
from pipeline.stage import StageOutputs

log = logging.getLogger("storywatch.deliver")

# Arrival times kept for the alert → delivered latency of sends finished later (live).
ARRIVALS_KEPT = 10_000


def load_subscribers_and_secrets(path: str) -> tuple[Subscribers, Secrets]:
    """The subscribers file and the secrets it names (UserError if one is unset)."""
    subscribers = load_subscribers(path)
    return subscribers, resolve_secrets(subscribers)


class _DeliverFn(beam.DoFn):
    def __init__(
        self,
        *,
        ledger_url: str,
        alerts_out: str | None,
        subscribers_file: str | None,
        dead_letter_out: str | None,
        console: bool,
        clock,
        sweep_interval_seconds: float,
        secret_env: str | None,
        background_sweep: bool,
        reload_interval_seconds: float = 0.0,
        config_uri: str | None = None,
        wait_for_channels: bool = True,
    ) -> None:
        self._wait_for_channels = wait_for_channels
        self._reload_interval_seconds = reload_interval_seconds
        self._config_uri = config_uri
        self._ledger_url = ledger_url
        self._background_sweep = background_sweep
        self._alerts_out = alerts_out
        self._subscribers_file = subscribers_file
        self._dead_letter_out = dead_letter_out
        self._console = console
        self._clock = clock
        self._sweep_interval_seconds = sweep_interval_seconds
        self._secret_env = secret_env
        self._counters: dict[str, object] = {}

    def setup(self) -> None:
        if self._secret_env:
            SecretEnv.parse(self._secret_env).install()
        self._ledger = open_ledger(self._ledger_url)
        subscribers, secrets = None, None
        self._watcher = None
        if self._subscribers_file:
            subscribers, secrets = load_subscribers_and_secrets(self._subscribers_file)
            if self._reload_interval_seconds > 0:
                self._watcher = ConfigWatcher(
                    [self._subscribers_file],
                    partial(load_subscribers_and_secrets, self._subscribers_file),
                    initial=(subscribers, secrets),
                    interval_seconds=self._reload_interval_seconds,
                    config_uri=self._config_uri,
                )
        self._sink = JsonlSink(self._ledger, self._alerts_out, console=self._console)
        self._dispatcher = self._new_dispatcher(subscribers, secrets)
        self._dispatcher_subscribers = subscribers
        self._next_sweep = 0.0
        # The live pipeline may go hours without an alert; digests and retries must not
        # wait for one. One lock keeps the sweeper and process() from interleaving.
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sweeper = None
        self._arrived_at: dict[str, dt.datetime] = {}
        self._start_sweeper(subscribers)

    def _new_dispatcher(self, subscribers, secrets) -> Dispatcher:
        dispatcher = Dispatcher(
            self._ledger,
            subscribers=subscribers,
            secrets=secrets,
            sink=self._sink,
            dead_letter_path=self._dead_letter_out,
            clock=self._clock,
            wait_for_channels=self._wait_for_channels,
        )
        if not self._wait_for_channels:
            dispatcher.on_finished = self._observe_finished
        return dispatcher

    def _observe_finished(self, results) -> None:
        """Counts and alert → delivered as each lane's send finishes (on that lane's thread,
        outside any bundle: tallied in this process, ``pipeline.run.metrics.tally_here``)."""
        for delivery in results:
            tally_here("DeliverAlerts", _counter_name(delivery.status))
            if delivery.repeat:
                tally_here("DeliverAlerts", _counter_name("repeat"))
        for alert_id in dict.fromkeys(d.alert_id for d in results):
            arrived_at = self._arrived_at.get(alert_id)
            if arrived_at is not None:
                observe_deliveries(
                    alert_id,
                    results,
                    arrived_at=arrived_at,
                    sink_subscriber=SINK_SUBSCRIBER,
                    here=True,
                )

    def _start_sweeper(self, subscribers: Subscribers | None) -> None:
        if (
            self._sweeper is None
            and self._background_sweep
            and subscribers
            and subscribers.subscribers
        ):
            self._sweeper = threading.Thread(
                target=self._sweep_forever, name="DeliverAlerts-sweeper", daemon=True
            )
            self._sweeper.start()

    def _reload_subscribers(self) -> None:
        """Swap in a new Dispatcher when the subscribers file changed; called under the lock."""
        if self._watcher is None:
            return
        loaded = self._watcher.current()
        if loaded[0] is self._dispatcher_subscribers:
            return
        old, self._dispatcher = self._dispatcher, self._new_dispatcher(*loaded)
        self._dispatcher_subscribers = loaded[0]
        old.close()  # sends still queued there give their claims back: the next sweep sends them
        self._next_sweep = 0.0
        self._start_sweeper(loaded[0])

    def _sweep(self) -> list:
        self._next_sweep = time.monotonic() + self._sweep_interval_seconds
        return self._dispatcher.retry_unconfirmed() + self._dispatcher.flush_due()

    def _sweep_forever(self) -> None:
        # The first sweep at once: a restart must not wait an interval (nor an alert) to
        # deliver what a killed process recorded or claimed.
        wait_seconds = 0.0
        while not self._stop.wait(wait_seconds):
            wait_seconds = self._sweep_interval_seconds
            try:
                with self._lock:
                    if time.monotonic() >= self._next_sweep:
                        for delivery in self._sweep():
                            log.info(
                                "sweep: %s %s to %s/%s %s",
                                delivery.status,
                                delivery.alert_id,
                                delivery.subscriber,
                                delivery.channel,
                                delivery.reason,
                            )
            except Exception:  # keep sweeping; the next process() call sweeps too
                log.exception("DeliverAlerts sweep failed")

    def _count(self, status: str) -> None:
        if status not in self._counters:
            self._counters[status] = Metrics.counter("DeliverAlerts", _counter_name(status))
        self._counters[status].inc()

    def process(self, alert):
        arrived_at = utc_now()
        finished = []
        with self._lock:
            self._reload_subscribers()
            results = self._sweep() if time.monotonic() >= self._next_sweep else []
            if not self._wait_for_channels:
                self._arrived_at[alert.alert_id] = arrived_at  # before a lane can finish it
                while len(self._arrived_at) > ARRIVALS_KEPT:
                    del self._arrived_at[next(iter(self._arrived_at))]
            results += self._dispatcher.deliver([alert])
            if not self._wait_for_channels:
                finished = self._dispatcher.take_finished()  # observed as they finished
        for alert_id in dict.fromkeys(d.alert_id for d in results):
            observe_deliveries(
                alert_id, results, arrived_at=arrived_at, sink_subscriber=SINK_SUBSCRIBER
            )
        for delivery in results:
            self._count(delivery.status)
            if delivery.repeat:
                self._count("repeat")
            yield delivery
        yield from finished  # counted as they finished

    def teardown(self) -> None:
        dispatcher = getattr(self, "_dispatcher", None)
        if dispatcher is not None:
            self._stop.set()
            if self._sweeper is not None:
                self._sweeper.join(timeout=30)
            dispatcher.close()
            self._ledger.close()
            self._dispatcher = None


def _counter_name(status: str) -> str:
    return "repeats" if status == "repeat" else f"deliveries_{status}"


class DeliverAlerts(beam.PTransform):
    """Alerts → the JSONL sink, the console and every subscriber who wants them →
    StageOutputs(main=Delivery per (alert, subscriber, channel), dead_letter=Failure per dead one).

    Each (alert, subscriber, channel) is delivered once, across restarts, through the
    ledger at ``ledger_url``. Permanent failures go to ``dead_letter_out`` (default:
    ``delivery-dead-letters.jsonl`` next to a SQLite ledger), to the log, and to the
    ``DeliverAlerts/deliveries_dead`` counter. The subscribers file is loaded and its
    secrets are read here, so a bad file or a missing variable stops the pipeline before
    it starts, with ``FILE:LINE`` and the variable's name. With ``secret_env``
    (``NAME=REF,...``, see ``pipeline.run.secrets``) the variables it covers are filled on each
    worker in ``setup`` instead, and only the others must be set where the job is built.
    ``reload_interval_seconds`` > 0 re-reads the subscribers file while running.
    ``wait_for_channels=False`` (live) sends from one bounded queue per (subscriber,
    channel) without holding up the pipeline (module docstring).
    """

    def __init__(
        self,
        *,
        ledger_url: str,
        alerts_out: str | None = None,
        subscribers_file: str | None = None,
        dead_letter_out: str | None = None,
        console: bool = True,
        clock=None,
        sweep_interval_seconds: float = 60.0,
        secret_env: str | None = None,
        background_sweep: bool = True,
        reload_interval_seconds: float = 0.0,
        config_uri: str | None = None,
        wait_for_channels: bool = True,
    ) -> None:
        super().__init__()
        if subscribers_file:
            resolve_secrets(
                load_subscribers(subscribers_file), deferred=SecretEnv.parse(secret_env).names()
            )
        self._fn = _DeliverFn(
            ledger_url=ledger_url,
            alerts_out=str(alerts_out) if alerts_out else None,
            subscribers_file=str(subscribers_file) if subscribers_file else None,
            dead_letter_out=str(dead_letter_out or default_dead_letter_path(ledger_url) or "")
            or None,
            console=console,
            clock=clock,
            sweep_interval_seconds=sweep_interval_seconds,
            secret_env=secret_env,
            background_sweep=background_sweep,
            reload_interval_seconds=reload_interval_seconds,
            config_uri=config_uri,
            wait_for_channels=wait_for_channels,
        )

    def expand(self, alerts: beam.PCollection) -> StageOutputs:
        deliveries = alerts | "DeliverEachAlert" >> beam.ParDo(self._fn)
        dead = deliveries | "DeadDeliveries" >> beam.FlatMap(_dead_letter_of)
        return StageOutputs(deliveries, dead)


def _dead_letter_of(delivery: Delivery) -> Iterable[Failure]:
    """A permanently failed delivery as a pipeline dead letter (it is also in the delivery
    dead-letter file, from which ``deliver --retry-dead`` resends it)."""
    if delivery.status == DEAD:
        yield Failure(
            "deliver",
            f"{delivery.alert_id}:{delivery.subscriber}:{delivery.channel}",
            delivery.reason or "delivery failed permanently",
            at=delivery.at,
        )
