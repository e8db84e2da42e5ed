"""Scraping ``/metrics`` over a real socket and reading the answer with prometheus_client's
own parser, for the metrics tests."""

from __future__ import annotations

import http.client

import trio
from prometheus_client.parser import text_string_to_metric_families

#: Every sample of a scrape, by name and sorted labels.
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(port: int, path: str = "/metrics") -> tuple[int, str, str]:
    """GET ``path`` with http.client in a worker thread: status, content type, body."""

    def request() -> tuple[int, str, str]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read().decode()
        finally:
            connection.close()

    return await trio.to_thread.run_sync(request)


def parse(text: str) -> Samples:
    """Every sample of the Prometheus text format, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
