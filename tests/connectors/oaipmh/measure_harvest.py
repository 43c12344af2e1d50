"""Measure the OAI-PMH connector's harvest throughput (a script, not a test: timings are never asserted).

    PYTHONPATH=$PWD:$PWD/tests python3 tests/connectors/oaipmh/measure_harvest.py --records 10000

Serves ``--records`` theses from pyoai's data provider on 127.0.0.1 (``--page``
records a response, DSpace's default being 100) and times, on the same
repository: reading the list alone (HTTP + XML parsing), the first full pass
(read, map, publish to a real broker with acks=all, checkpoint in SQLite),
and a second pass that finds nothing new. Prints one JSON line. The data provider runs in this process, so the
figures include pyoai making the responses (reported apart).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from oai_harvest import Harvest, later, put_thesis
from oai_repository import Repository, serve
from services import kafka_broker

from clearance.settings import Settings
from connectors.oaipmh.source import OaiSource
from connectors.runtime import Publisher, StateStore
from schemas.registry import Topic


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--page", type=int, default=100)
    args = parser.parse_args()
    repository = Repository()
    for n in range(1, args.records + 1):
        put_thesis(repository, n, later(0) + timedelta(seconds=n))
    figures: dict[str, object] = {"records": args.records, "records_per_response": args.page}
    with (
        serve(repository, batch_size=args.page) as url,
        kafka_broker() as bootstrap,
        tempfile.TemporaryDirectory() as tmp,
    ):
        source = OaiSource(url, "oai_dc")
        started = time.perf_counter()
        read = sum(len(page.records) for page in source.pages(None))
        figures["read_only_seconds"] = round(time.perf_counter() - started, 2)
        figures["read_only_of_which_data_provider_seconds"] = round(repository.serving_seconds, 2)
        source.close()
        assert read == args.records, read

        settings = Settings(kafka_bootstrap_servers=bootstrap, topic_prefix=f"m{uuid.uuid4().hex[:8]}.")
        state = StateStore(f"sqlite:///{Path(tmp) / 'state.db'}", "oai-pmh")
        publisher = Publisher(settings, settings.topic(Topic.DEPOSITS))
        harvest = Harvest(url, bootstrap, settings.topic(Topic.DEPOSITS), state, publisher)
        requests_before, serving_before = repository.requests, repository.serving_seconds
        started = time.perf_counter()
        result = harvest.run_pass()
        first = time.perf_counter() - started
        responses = repository.requests - requests_before
        provider = repository.serving_seconds - serving_before
        started = time.perf_counter()
        again = harvest.run_pass()
        second = time.perf_counter() - started
        publisher.close()
        state.close()
    figures.update(
        first_pass_responses=responses,
        first_pass_seconds=round(first, 2),
        first_pass_of_which_data_provider_seconds=round(provider, 2),
        first_pass_events_published=result.published,
        first_pass_records_per_second=round(args.records / first),
        first_pass_events_per_second=round(result.published / first),
        second_pass_seconds=round(second, 2),
        second_pass_events_published=again.published,
        read_only_records_per_second=round(args.records / float(figures["read_only_seconds"])),  # type: ignore[arg-type]
    )
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
