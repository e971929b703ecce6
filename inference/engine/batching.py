"""Dynamic batching and the engine's counters (stdlib only).

A Batcher gathers the items of concurrent requests for a short window (or
until --max-batch items wait) and runs them through one function call, so one
forward pass serves many requests. Metrics holds what GET /metrics shows.
"""

import collections
import threading
import time


class Metrics:
    """Counters and gauges, read as Prometheus text by render()."""

    BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = 0
        self.queued = 0
        self.requests = collections.Counter()  # status code: count
        self.batch_counts = [0] * (len(self.BATCH_BUCKETS) + 1)
        self.batch_sum = 0
        self.batch_total = 0
        self.batch_max = 0
        self.duration_counts = [0] * (len(self.DURATION_BUCKETS) + 1)
        self.duration_sum = 0.0
        self.generated_tokens = 0
        self.prompt_tokens = 0

    def add_in_flight(self, n):
        with self.lock:
            self.in_flight += n

    def try_enter(self, limit):
        """Counts one more request in flight unless limit are already; returns whether it did."""
        with self.lock:
            if self.in_flight >= limit:
                return False
            self.in_flight += 1
            return True

    def add_queued(self, n):
        with self.lock:
            self.queued += n

    def request_done(self, status, seconds):
        with self.lock:
            self.requests[status] += 1
            self.duration_sum += seconds
            self.duration_counts[_bucket(self.DURATION_BUCKETS, seconds)] += 1

    def batch(self, size):
        with self.lock:
            self.batch_total += 1
            self.batch_sum += size
            self.batch_max = max(self.batch_max, size)
            self.batch_counts[_bucket(self.BATCH_BUCKETS, size)] += 1

    def tokens(self, prompt, generated):
        with self.lock:
            self.prompt_tokens += prompt
            self.generated_tokens += generated

    def render(self, labels):
        """Prometheus text exposition format, every series with the given constant labels."""
        base = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())

        def lab(extra=""):
            parts = [p for p in (base, extra) if p]
            return "{" + ",".join(parts) + "}" if parts else ""

        out = []

        def metric(name, kind, help_, lines):
            out.append(f"# HELP {name} {help_}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(lines)

        def histogram(name, help_, buckets, counts, total, count):
            lines, acc = [], 0
            for le, c in zip(list(buckets) + ["+Inf"], counts):
                acc += c
                lines.append(f"{name}_bucket{lab('le=' + _q(le))} {acc}")
            lines.append(f"{name}_sum{lab()} {total}")
            lines.append(f"{name}_count{lab()} {count}")
            metric(name, "histogram", help_, lines)

        with self.lock:
            metric("haven_engine_requests_in_flight", "gauge", "Requests being served now.",
                   [f"haven_engine_requests_in_flight{lab()} {self.in_flight}"])
            metric("haven_engine_queue_size", "gauge", "Requests waiting for the model (batch queue or lock).",
                   [f"haven_engine_queue_size{lab()} {self.queued}"])
            metric("haven_engine_requests_total", "counter", "Requests answered, by HTTP status.",
                   [f"haven_engine_requests_total{lab('status=' + _q(s))} {n}"
                    for s, n in sorted(self.requests.items())] or [f"haven_engine_requests_total{lab()} 0"])
            histogram("haven_engine_request_duration_seconds", "Time to answer a request.",
                      self.DURATION_BUCKETS, self.duration_counts, round(self.duration_sum, 6),
                      sum(self.duration_counts))
            histogram("haven_engine_batch_size", "Inputs per forward pass of the dynamic batcher.",
                      self.BATCH_BUCKETS, self.batch_counts, self.batch_sum, self.batch_total)
            metric("haven_engine_batch_size_max", "gauge", "The largest batch formed so far.",
                   [f"haven_engine_batch_size_max{lab()} {self.batch_max}"])
            metric("haven_engine_prompt_tokens_total", "counter", "Prompt tokens of generation requests.",
                   [f"haven_engine_prompt_tokens_total{lab()} {self.prompt_tokens}"])
            metric("haven_engine_generated_tokens_total", "counter", "Tokens generated.",
                   [f"haven_engine_generated_tokens_total{lab()} {self.generated_tokens}"])
        return "\n".join(out) + "\n"


def _bucket(bounds, value):
    for i, b in enumerate(bounds):
        if value <= b:
            return i
    return len(bounds)


def _q(v):
    return '"' + _esc(v) + '"'


def _esc(v):
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Job:
    __slots__ = ("items", "arrived", "done", "result", "error")

    def __init__(self, items):
        self.items = items
        self.arrived = time.monotonic()
        self.done = threading.Event()
        self.result = None
        self.error = None


class Batcher:
    """Runs fn(list of items) -> list of results (same length) over the items of concurrent submits.

    The worker takes the first waiting job, waits up to window seconds for
    more (stopping early once max_batch items wait), then runs every job that
    fits in max_batch items as one call. A job is never split: a job larger
    than max_batch runs alone (requests are limited to max_batch items before
    they get here).
    """

    def __init__(self, fn, max_batch, window, metrics):
        self.fn = fn
        self.max_batch = max(1, max_batch)
        self.window = max(0.0, window)
        self.metrics = metrics
        self.jobs = collections.deque()
        self.cv = threading.Condition()
        threading.Thread(target=self._loop, name="batcher", daemon=True).start()

    def submit(self, items):
        if not items:
            return []
        job = _Job(list(items))
        self.metrics.add_queued(1)
        with self.cv:
            self.jobs.append(job)
            self.cv.notify()
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    def _waiting(self):
        return sum(len(j.items) for j in self.jobs)

    def _loop(self):
        while True:
            with self.cv:
                while not self.jobs:
                    self.cv.wait()
                deadline = self.jobs[0].arrived + self.window
                while self._waiting() < self.max_batch:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self.cv.wait(left)
                batch = [self.jobs.popleft()]
                size = len(batch[0].items)
                while self.jobs and size + len(self.jobs[0].items) <= self.max_batch:
                    job = self.jobs.popleft()
                    batch.append(job)
                    size += len(job.items)
            self.metrics.add_queued(-len(batch))
            self._run(batch, size)

    def _run(self, batch, size):
        items = [it for job in batch for it in job.items]
        try:
            results = self.fn(items)
            if len(results) != len(items):
                raise RuntimeError(f"batch function returned {len(results)} results for {len(items)} inputs")
        except BaseException as e:  # noqa: BLE001 - handed to every waiting request
            for job in batch:
                job.error = e
                job.done.set()
            return
        self.metrics.batch(size)
        i = 0
        for job in batch:
            job.result = results[i:i + len(job.items)]
            i += len(job.items)
            job.done.set()
