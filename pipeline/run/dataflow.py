"""The pipeline on Google Cloud Dataflow: the flex-template launcher and the offline job plan.

``launch(argv)`` is what the Flex Template runs (deploy/main.py calls it on the launcher
VM): it reads ``StorywatchOptions``, loads the watchlists baked into the image, builds the
streaming graph with ``pipeline.run.graph.build_pipeline`` and submits it without waiting.

``plan(argv, out)`` builds exactly the same job offline, with no credentials and no network
(``--runner=DataflowRunner --dry_run=True``, dummy project and bucket), and writes what
Dataflow would receive to ``build/dataflow-job.json``::

    {"job":      the Dataflow Job request (type, environment: Streaming Engine, worker pool,
                 autoscaling bounds, machine type, SDK container image, pipeline options),
     "pipeline": the Beam portable pipeline proto the job runs (every step, coder, state spec)}

Beam skips writing ``--dataflow_job_file`` in a dry run (2.77 returns before staging), so
the environment is built here the way ``DataflowApplicationClient.create_job_description``
builds it, minus the uploads. ``make dataflow-plan`` runs it; tests/test_deploy.py reads it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import StandardOptions
from apache_beam.portability.api import beam_runner_api_pb2
from google.protobuf import json_format

from pipeline.errors import UserError
from pipeline.ledger.url import redact_url
from pipeline.run.graph import build_pipeline
from pipeline.run.inputs import load_run_inputs
from pipeline.run.options import StorywatchOptions, pipeline_options

# A plan never submits, whatever else argv says.
PLAN_FORCED = {"runner": "DataflowRunner", "dry_run": "True"}
# What a dry run needs to pass Beam's validation; nothing is contacted.
PLAN_DEFAULTS = {
    "project": "storywatch-plan",
    "region": "us-central1",
    "temp_location": "gs://storywatch-plan/temp",
    "job_name": "storywatch",
    "ledger": "firestore://storywatch-plan/storywatch",
}
STATEFUL_PARDO = "beam:transform:pardo:v1"


def _has_flag(argv: Sequence[str], name: str) -> bool:
    return any(a == f"--{name}" or a.startswith(f"--{name}=") for a in argv)


def with_plan_defaults(argv: Sequence[str]) -> list[str]:
    """``argv`` made into a dry run: runner and dry_run forced, dummy values where unset.

    >>> with_plan_defaults(["--project=acme", "--dry_run=False"])[:3]
    ['--project=acme', '--runner=DataflowRunner', '--dry_run=True']
    """
    out = [a for a in argv if not any(_has_flag([a], k) for k in PLAN_FORCED)]
    out += [f"--{k}={v}" for k, v in PLAN_FORCED.items()]
    out += [f"--{k}={v}" for k, v in PLAN_DEFAULTS.items() if not _has_flag(argv, k)]
    return out


def job_request(result: Any) -> dict:
    """The Dataflow Job JSON of a dry-run result, with the environment filled in (no staging)."""
    # lazy: the Dataflow client modules need the gcp extra, which `make demo` does not install
    from apache_beam.options.pipeline_options import GoogleCloudOptions
    from apache_beam.runners.dataflow.internal import apiclient
    from apache_beam.runners.internal import names as shared_names

    # Beam-internal names (2.77): tests/test_deploy.py fails here first if an upgrade moves them.
    job = result.job
    staging = job.options.view_as(GoogleCloudOptions).staging_location
    job.proto.environment = apiclient.Environment(
        packages=[],
        options=job.options,
        environment_version=apiclient._FNAPI_ENVIRONMENT_MAJOR_VERSION,
        proto_pipeline_staged_url=f"{staging}/{shared_names.STAGED_PIPELINE_FILENAME}",
        proto_pipeline=job.proto_pipeline,
    ).proto
    return json.loads(job.json())


def pipeline_json(result: Any) -> dict:
    return json_format.MessageToDict(result.job.proto_pipeline)


def stateful_steps(pipeline: dict) -> list[dict]:
    """Each stateful ParDo of a pipeline proto (as JSON): its name, state, key coder and keying step.

    ``keyed_by`` is the nearest step upstream whose name starts with ``KeyBy``, found by
    walking back through steps that keep the key (``GlobalWindow``, ``Reshuffle``...).
    """
    components = pipeline["components"]
    transforms = components["transforms"]
    leaf_producer = {
        pc: t
        for t in transforms.values()
        if not t.get("subtransforms")
        for pc in t.get("outputs", {}).values()
    }
    coders = components["coders"]

    def main_inputs(transform: dict, side_inputs=()) -> list[str]:
        return [pc for name, pc in transform.get("inputs", {}).items() if name not in side_inputs]

    def keyed_by(pcoll: str) -> str | None:
        for _ in range(12):
            producer = leaf_producer.get(pcoll)
            if producer is None:
                return None
            name = producer["uniqueName"]
            if any(part.startswith("KeyBy") for part in name.split("/")):
                return name
            inputs = main_inputs(producer)
            if len(inputs) != 1:
                return None
            pcoll = inputs[0]
        return None

    steps = []
    for transform in transforms.values():
        spec = transform.get("spec", {})
        if spec.get("urn") != STATEFUL_PARDO:
            continue
        payload = beam_runner_api_pb2.ParDoPayload.FromString(
            base64.b64decode(spec.get("payload", ""))
        )
        if not payload.state_specs and not payload.timer_family_specs:
            continue
        (main_input,) = main_inputs(transform, payload.side_inputs)
        coder = coders[components["pcollections"][main_input]["coderId"]]
        component_urns = [coders[c]["spec"]["urn"] for c in coder.get("componentCoderIds", [])]
        steps.append(
            {
                "step": transform["uniqueName"],
                "state": sorted(payload.state_specs),
                "timers": sorted(payload.timer_family_specs),
                "input_coder": coder["spec"]["urn"],
                "key_coder": component_urns[0]
                if coder["spec"]["urn"] == "beam:coder:kv:v1"
                else None,
                "keyed_by": keyed_by(main_input),
            }
        )
    return sorted(steps, key=lambda s: s["step"])


def top_level_steps(pipeline: dict) -> list[str]:
    """Names of the pipeline's top-level steps, in the order they were applied."""
    transforms = pipeline["components"]["transforms"]
    ordered: list[str] = []
    for root in pipeline.get("rootTransformIds", []):
        t = transforms[root]
        # Beam wraps the user's steps in one root composite that has no spec of its own.
        children = t.get("subtransforms", []) if not t.get("spec") else []
        ordered += [transforms[c]["uniqueName"] for c in children] or [t["uniqueName"]]
    return [name for name in ordered if "/" not in name]


def summary(plan_json: dict) -> dict:
    """The facts worth reading from a plan: job type, worker shape, stages and stateful steps."""
    job, pipeline = plan_json["job"], plan_json["pipeline"]
    pool = job["environment"]["workerPools"][0]
    return {
        "type": job["type"],
        "streaming_engine": "enable_streaming_engine" in job["environment"].get("experiments", []),
        "machine_type": pool.get("machineType"),
        "num_workers": pool.get("numWorkers"),
        "max_num_workers": pool.get("autoscalingSettings", {}).get("maxNumWorkers"),
        "sdk_container_image": pool.get("workerHarnessContainerImage"),
        "stages": top_level_steps(pipeline),
        "stateful_steps": stateful_steps(pipeline),
    }


def update_problems(old_plan: dict, new_plan: dict) -> list[str]:
    """Why ``--update`` from the old job to the new one would lose or break Beam state.

    Dataflow maps state by step name: a stateful step that disappears (renamed without a
    transform name mapping) loses its state, and one whose key coder or state names
    changed cannot take the old state over.
    """
    old = {s["step"]: s for s in stateful_steps(old_plan["pipeline"])}
    new = {s["step"]: s for s in stateful_steps(new_plan["pipeline"])}
    problems = [
        f"{name}: stateful step gone from the new job; its state would be dropped "
        "(renamed? pass TRANSFORM_NAME_MAPPINGS='Old=New')"
        for name in sorted(old.keys() - new.keys())
    ]
    for name in sorted(old.keys() & new.keys()):
        for field in ("key_coder", "state", "timers"):
            if old[name][field] != new[name][field]:
                problems.append(
                    f"{name}: {field} changed from {old[name][field]} to {new[name][field]}; "
                    "the running job's state cannot be carried over (drain and start a new job)"
                )
    if old_plan["job"]["type"] != new_plan["job"]["type"]:
        problems.append(
            f"job type changed from {old_plan['job']['type']} to {new_plan['job']['type']}"
        )
    return problems


def _resolved(path: str | None, base: Path) -> str | None:
    """An absolute path for a config file, so workers (same image, other cwd) find it too."""
    if not path or "://" in path:
        return path
    p = Path(path)
    return str(p if p.is_absolute() else (base / p).resolve())


def build(argv: Sequence[str], *, config_base: Path | None = None) -> tuple[Any, Any]:
    """The streaming pipeline for Dataflow, from template parameters; returns (pipeline, options).

    Relative config paths are taken from ``config_base`` (default: ``STORYWATCH_HOME`` in
    the image, else the current directory) and made absolute. The ledger must be shared
    by all workers (``firestore://``): a SQLite file on one worker's disk is neither seen by
    the others nor kept when Dataflow replaces the worker.
    """
    options = pipeline_options(list(argv))  # the same option checks as a local run
    standard = options.view_as(StandardOptions)
    if not _has_flag(argv, "runner"):
        standard.runner = "DataflowRunner"
    standard.streaming = True  # the live pipeline polls forever: a streaming job
    sw = options.view_as(StorywatchOptions)
    if sw.replay_feeds or sw.replay_articles:
        raise UserError(
            "--replay_feeds/--replay_articles are for local runs; the Dataflow job polls the feed list"
        )
    if sw.websub_callback_url:
        raise UserError(
            f"--websub_callback_url={sw.websub_callback_url}: the local callback server does not "
            "run on Dataflow workers; there the public callback publishes verified pushes to "
            "Pub/Sub, read with --websub_pubsub_subscription (deploy/README.md, WebSub push)"
        )
    if sw.config_uri and not sw.config_uri.startswith("gs://"):
        raise UserError(
            f"--config_uri={sw.config_uri}: Dataflow workers can only reach a shared folder; "
            "use gs://BUCKET/PATH (deploy/README.md, config edits)"
        )
    if not str(sw.ledger).startswith("firestore://"):
        raise UserError(
            f"--ledger={redact_url(sw.ledger)}: on Dataflow the ledger must be shared by every "
            "worker; "
            "use firestore://PROJECT/PREFIX (see deploy/README.md)"
        )
    base = config_base or Path(os.environ.get("STORYWATCH_HOME", "."))
    sw.watchlists = _resolved(sw.watchlists, base)
    sw.feeds_file = _resolved(sw.feeds_file, base)
    sw.subscribers = _resolved(sw.subscribers, base)
    inputs = load_run_inputs(sw, live=True)
    try:
        p = beam.Pipeline(options=options)
    except ValueError as exc:  # Beam's option validation (project id, temp_location...)
        raise UserError(*str(exc).strip().splitlines()) from None
    build_pipeline(
        p,
        sw,
        inputs.watchlists,
        feed_sources=inputs.feed_sources,
        coverage_alerts=inputs.coverage_alerts,
    )
    return p, options


def launch(argv: Sequence[str] | None = None) -> Any:
    """Submit the streaming job (what the Flex Template launcher runs); do not wait for it."""
    p, _ = build(sys.argv[1:] if argv is None else argv)
    return p.run()


def plan(argv: Sequence[str], out: Path) -> dict:
    """Build the Dataflow job offline and write {"job": ..., "pipeline": ...} to ``out``."""
    p, _ = build(with_plan_defaults(argv))
    result = p.run()
    plan_json = {"job": job_request(result), "pipeline": pipeline_json(result)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(plan_json, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return plan_json


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pipeline.run.dataflow plan --out=build/dataflow-job.json [pipeline options]``,
    ``... update-check OLD.json NEW.json`` (exit 1 if ``--update`` would lose state), ``... launch``."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.run.dataflow", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    plan_parser = sub.add_parser("plan", help="write the Dataflow job JSON without credentials")
    plan_parser.add_argument("--out", type=Path, default=Path("build/dataflow-job.json"))
    sub.add_parser("launch", help="submit the streaming job (the flex template does this)")
    check = sub.add_parser(
        "update-check", help="can a job planned as OLD be updated in place to NEW?"
    )
    check.add_argument("old", type=Path, metavar="OLD.json")
    check.add_argument("new", type=Path, metavar="NEW.json")
    args, rest = parser.parse_known_args(argv)
    try:
        if args.command == "launch":
            launch(rest)
            return 0
        if args.command == "update-check":
            return _update_check(args.old, args.new)
        facts = summary(plan(rest, args.out))
    except UserError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    print(
        f"{args.out}: {facts['type']}, Streaming Engine {'on' if facts['streaming_engine'] else 'OFF'}, "
        f"{facts['machine_type']} x {facts['num_workers']}..{facts['max_num_workers']} workers"
    )
    print("stages: " + " -> ".join(facts["stages"]))
    for step in facts["stateful_steps"]:
        print(
            f"stateful: {step['step']}  keyed by {step['keyed_by']} ({step['key_coder']})  "
            f"state {', '.join(step['state'])}"
        )
    return 0


def _update_check(old_path: Path, new_path: Path) -> int:
    plans = []
    for path in (old_path, new_path):
        try:
            plans.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise UserError(
                f"{path}: cannot read a plan ({exc}); write one with make dataflow-plan"
            ) from None
    problems = update_problems(*plans)
    for problem in problems:
        print(problem)
    print(f"{new_path}: {'NOT ' if problems else ''}updatable in place from {old_path}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
